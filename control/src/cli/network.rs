//! `shoal network ...`: the swarm's overlay networks.

use clap::{Args, Subcommand};
use shoal_control::api::{KeyRotation, NetworkCreateRequest};
use shoal_control::cluster::NetworkRecord;

use super::api_conn::{ConnArgs, block_on};
use super::humanize::short_id;
use super::output::{Format, Table, print_json, print_list};
use super::{objects, parse};

/// `shoal network` and its connection options.
#[derive(Debug, Args)]
pub struct NetworkArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: NetworkCommand,
}

/// `shoal network` subcommands.
#[derive(Debug, Subcommand)]
enum NetworkCommand {
    /// Create an overlay network.
    Create {
        /// Driver (only overlay).
        #[arg(short, long, default_value = "overlay")]
        driver: String,
        /// Subnet in CIDR form (taken from the pool when absent).
        #[arg(long)]
        subnet: Option<String>,
        /// Driver option: `encrypted`.
        #[arg(short, long = "opt", value_name = "OPTION")]
        opts: Vec<String>,
        /// Label (key=value).
        #[arg(long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
        /// No egress: the network's tasks reach nothing outside the
        /// cluster through it (Docker's `--internal`).
        #[arg(long)]
        internal: bool,
        /// Network name.
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Only IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Full IDs.
        #[arg(long)]
        no_trunc: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show networks in detail (JSON).
    Inspect {
        /// Networks (IDs, ID prefixes or names).
        #[arg(required = true)]
        networks: Vec<String>,
        /// json (the default).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Change a network: `--rotate-keys` gives the encrypted networks a
    /// new key now (nodes switch within seconds, without losing a packet).
    Update {
        /// Rotate the key of this encrypted network (one key serves every
        /// encrypted network of the swarm).
        #[arg(long, required = true)]
        rotate_keys: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Network (ID, ID prefix or name).
        network: String,
    },
    /// Remove networks.
    #[command(alias = "remove")]
    Rm {
        /// Networks.
        #[arg(required = true)]
        networks: Vec<String>,
    },
}

/// Why `network create` options were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkFlagError {
    /// An `--opt` shoal's overlay does not have.
    #[error("unsupported network option {option:?}: expected encrypted")]
    Option {
        /// The option given.
        option: String,
    },
}

/// The request `network create` sends.
fn create_request(
    name: &str,
    driver: &str,
    subnet: Option<String>,
    opts: &[String],
    labels: &[String],
) -> anyhow::Result<NetworkCreateRequest> {
    let mut encrypted = false;
    for option in opts {
        match option.as_str() {
            "encrypted" | "encrypted=true" | "encrypted=" => encrypted = true,
            "encrypted=false" => encrypted = false,
            _ => {
                return Err(NetworkFlagError::Option {
                    option: option.clone(),
                }
                .into());
            }
        }
    }
    Ok(NetworkCreateRequest {
        name: name.to_owned(),
        driver: Some(driver.to_owned()),
        subnet,
        encrypted,
        internal: false,
        labels: parse::labels(labels)?,
    })
}

fn network_table(networks: &[NetworkRecord], no_trunc: bool) -> Table {
    let mut table = Table::new(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"]);
    let mut sorted: Vec<&NetworkRecord> = networks.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for network in sorted {
        table.row(vec![
            short_id(&network.id, no_trunc).to_owned(),
            network.name.clone(),
            network.driver.clone(),
            "swarm".to_owned(),
        ]);
    }
    table
}

/// Runs a `shoal network` command.
pub fn run(args: NetworkArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    block_on(async move {
        match args.command {
            NetworkCommand::Create {
                driver,
                subnet,
                opts,
                labels,
                internal,
                name,
            } => {
                let mut request = create_request(&name, &driver, subnet, &opts, &labels)?;
                request.internal = internal;
                let network: NetworkRecord = client.post("/networks/create", &request).await?;
                println!("{}", network.id);
                Ok(())
            }
            NetworkCommand::Ls {
                quiet,
                no_trunc,
                format,
            } => {
                let networks: Vec<NetworkRecord> = client.get("/networks").await?;
                print_list(
                    format,
                    quiet,
                    &networks,
                    |n| short_id(&n.id, no_trunc),
                    |n| network_table(n, no_trunc),
                )
            }
            NetworkCommand::Inspect {
                networks,
                format: _,
            } => {
                let records: Vec<NetworkRecord> =
                    objects::inspect_each(&client, "/networks", &networks).await?;
                print_json(&records)
            }
            NetworkCommand::Update {
                rotate_keys: _,
                format,
                network,
            } => {
                let path = format!("/networks/{network}/rotate-keys");
                let rotation: KeyRotation = client.post(&path, &()).await?;
                match format {
                    Format::Json => print_json(&rotation),
                    Format::Table => {
                        println!(
                            "encrypted networks' key rotated: generation {}",
                            rotation.generation
                        );
                        Ok(())
                    }
                }
            }
            NetworkCommand::Rm { networks } => {
                objects::remove_each(&client, "/networks", &networks).await
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn create_options_become_the_request() {
        let request = create_request(
            "front",
            "overlay",
            Some("10.1.0.0/24".into()),
            &["encrypted".into()],
            &["team=web".into()],
        )
        .unwrap();
        assert!(request.encrypted);
        assert_eq!(request.subnet.as_deref(), Some("10.1.0.0/24"));
        assert_eq!(request.labels.get("team").map(String::as_str), Some("web"));
        let err = create_request("front", "overlay", None, &["mtu=1400".into()], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported network option \"mtu=1400\": expected encrypted"
        );
    }

    #[test]
    fn ls_has_docker_columns() {
        let network = |id: &str, name: &str| NetworkRecord {
            id: id.into(),
            name: name.into(),
            driver: "overlay".into(),
            vni: 4097,
            subnet: "10.0.1.0/24".into(),
            gateway: Ipv4Addr::new(10, 0, 1, 1),
            encrypted: false,
            internal: false,
            ingress: false,
            labels: Default::default(),
            created_at: 0,
        };
        let table = network_table(
            &[
                network("z0123456789abcdef", "ingress"),
                network("a1", "front"),
            ],
            false,
        );
        assert_eq!(
            table.render(),
            "NETWORK ID     NAME      DRIVER    SCOPE\n\
             a1             front     overlay   swarm\n\
             z0123456789a   ingress   overlay   swarm\n"
        );
    }
}
