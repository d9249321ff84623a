//! `shoal config ...`: values handed to tasks as read-only files at the
//! path each service names (not secret: `inspect` shows them).

use std::io::Read as _;

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Args, Subcommand};
use shoal_control::api::{ConfigCreateRequest, ConfigView};
use shoal_control::spec::Timestamp;

use super::api_conn::{ConnArgs, block_on};
use super::humanize::{ago_secs, now, short_id};
use super::output::{Format, Table, print_json, print_list};
use super::{objects, parse};

/// A config must be smaller than this (Docker's 1000 KiB).
const CONFIG_MAX_BYTES: usize = 1000 * 1024;

/// `shoal config` and its connection options.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: ConfigCommand,
}

/// `shoal config` subcommands.
#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Create a config from a file, or from standard input with `-`.
    Create {
        /// Label (key=value).
        #[arg(short, long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
        /// Config name.
        name: String,
        /// File holding the value, or `-` for standard input.
        file: String,
    },
    /// List configs.
    #[command(alias = "list")]
    Ls {
        /// Only IDs.
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show configs in detail (JSON, the value base64 as Docker shows it).
    Inspect {
        /// Configs (IDs, ID prefixes or names).
        #[arg(required = true)]
        configs: Vec<String>,
        /// json (the default).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Remove configs (refused while a service uses one).
    #[command(alias = "remove")]
    Rm {
        /// Configs.
        #[arg(required = true)]
        configs: Vec<String>,
    },
}

/// Why a config's value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigValueError {
    /// Empty, or [`CONFIG_MAX_BYTES`] or more (Docker's words).
    #[error(
        "config data must be larger than 0 and less than {CONFIG_MAX_BYTES} bytes (it is {len})"
    )]
    Size {
        /// Bytes read.
        len: usize,
    },
}

/// The request `config create` sends for `data`.
fn create_request(
    name: &str,
    data: &[u8],
    labels: &[String],
) -> anyhow::Result<ConfigCreateRequest> {
    if data.is_empty() || data.len() >= CONFIG_MAX_BYTES {
        return Err(ConfigValueError::Size { len: data.len() }.into());
    }
    Ok(ConfigCreateRequest {
        name: name.to_owned(),
        data_b64: base64::engine::general_purpose::STANDARD.encode(data),
        labels: parse::labels(labels)?,
    })
}

fn read_value(file: &str) -> anyhow::Result<Vec<u8>> {
    if file == "-" {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .context("cannot read the config from standard input")?;
        return Ok(data);
    }
    std::fs::read(file).with_context(|| format!("cannot read the config from {file}"))
}

/// `config ls`.
fn config_table(configs: &[ConfigView], now: Timestamp) -> Table {
    let mut table = Table::new(&["ID", "NAME", "CREATED", "UPDATED"]);
    let mut sorted: Vec<&ConfigView> = configs.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for config in sorted {
        table.row(vec![
            short_id(&config.id, false).to_owned(),
            config.name.clone(),
            ago_secs(now, config.created_at),
            ago_secs(now, config.updated_at),
        ]);
    }
    table
}

/// Runs a `shoal config` command.
pub fn run(args: ConfigArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    block_on(async move {
        match args.command {
            ConfigCommand::Create { labels, name, file } => {
                let request = create_request(&name, &read_value(&file)?, &labels)?;
                let config: ConfigView = client.post("/configs/create", &request).await?;
                println!("{}", config.id);
                Ok(())
            }
            ConfigCommand::Ls { quiet, format } => {
                let configs: Vec<ConfigView> = client.get("/configs").await?;
                let now = now();
                print_list(
                    format,
                    quiet,
                    &configs,
                    |c| c.id.as_str(),
                    |c| config_table(c, now),
                )
            }
            ConfigCommand::Inspect { configs, format: _ } => {
                let views: Vec<ConfigView> =
                    objects::inspect_each(&client, "/configs", &configs).await?;
                print_json(&views)
            }
            ConfigCommand::Rm { configs } => {
                objects::remove_each(&client, "/configs", &configs).await
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_travel_as_padded_base64() {
        let request = create_request("site", b"listen 80;\n", &["tier=web".into()]).unwrap();
        assert_eq!(request.data_b64, "bGlzdGVuIDgwOwo=");
        assert_eq!(request.labels.get("tier").map(String::as_str), Some("web"));
    }

    #[test]
    fn empty_and_oversized_values_are_refused() {
        let empty = create_request("site", b"", &[]).unwrap_err();
        assert!(
            empty
                .to_string()
                .starts_with("config data must be larger than 0")
        );
        let big = vec![b'x'; CONFIG_MAX_BYTES];
        assert!(create_request("site", &big, &[]).is_err());
        assert!(create_request("site", &big[1..], &[]).is_ok());
    }

    #[test]
    fn ls_shows_created_and_updated() {
        let config = ConfigView {
            id: "c0123456789abcdefgh".into(),
            name: "site".into(),
            data_b64: "eA==".into(),
            labels: Default::default(),
            created_at: 1_000,
            updated_at: 1_000 + 60,
            version: 2,
        };
        let table = config_table(&[config], Timestamp(1_000_000 + 3 * 60_000));
        assert_eq!(
            table.render(),
            "ID             NAME   CREATED         UPDATED\n\
             c0123456789a   site   3 minutes ago   2 minutes ago\n"
        );
    }
}
