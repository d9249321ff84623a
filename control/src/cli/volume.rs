//! `shoal volume ...`: the named volumes of the node the CLI talks to
//! (local, as Docker's `local` driver's; tasks create them on first use).

use clap::{Args, Subcommand};
use shoal_control::api::VolumeView;

use super::api_conn::{ConnArgs, block_on};
use super::objects;
use super::output::{Format, Table, print_json, print_list};

/// `shoal volume` and its connection options.
#[derive(Debug, Args)]
pub struct VolumeArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: VolumeCommand,
}

/// `shoal volume` subcommands.
#[derive(Debug, Subcommand)]
enum VolumeCommand {
    /// List the node's volumes.
    #[command(alias = "list")]
    Ls {
        /// Only names.
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show volumes in detail (JSON).
    Inspect {
        /// Volume names.
        #[arg(required = true)]
        volumes: Vec<String>,
        /// json (the default).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Remove volumes (refused while a container on the node mounts one).
    #[command(alias = "remove")]
    Rm {
        /// Volume names.
        #[arg(required = true)]
        volumes: Vec<String>,
    },
}

/// `volume ls`, as Docker's.
fn volume_table(volumes: &[VolumeView]) -> Table {
    let mut table = Table::new(&["DRIVER", "VOLUME NAME"]);
    for volume in volumes {
        table.row(vec![volume.driver.clone(), volume.name.clone()]);
    }
    table
}

/// Runs a `shoal volume` command.
pub fn run(args: VolumeArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    block_on(async move {
        match args.command {
            VolumeCommand::Ls { quiet, format } => {
                let volumes: Vec<VolumeView> = client.get("/volumes").await?;
                print_list(format, quiet, &volumes, |v| v.name.as_str(), volume_table)
            }
            VolumeCommand::Inspect { volumes, format: _ } => {
                let views: Vec<VolumeView> =
                    objects::inspect_each(&client, "/volumes", &volumes).await?;
                print_json(&views)
            }
            VolumeCommand::Rm { volumes } => {
                objects::remove_each(&client, "/volumes", &volumes).await
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_is_dockers_table() {
        let volume = VolumeView {
            name: "pgdata".into(),
            driver: "local".into(),
            mountpoint: "/var/lib/shoal/volumes/pgdata/_data".into(),
            created_at: 1,
        };
        assert_eq!(
            volume_table(&[volume]).render(),
            "DRIVER   VOLUME NAME\nlocal    pgdata\n"
        );
    }
}
