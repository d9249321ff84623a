//! `shoal secret ...`: values handed to tasks at `/run/secrets/<name>`.

use std::io::Read as _;

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Args, Subcommand};
use shoal_control::api::{SecretCreateRequest, SecretView};
use shoal_control::spec::Timestamp;

use super::api_conn::{ConnArgs, block_on};
use super::humanize::{ago_secs, now, short_id};
use super::output::{Format, Table, print_json, print_list};
use super::{objects, parse};

/// Largest secret, as Docker's (500 KiB).
const MAX_SECRET_BYTES: usize = 500 * 1024;

/// `shoal secret` and its connection options.
#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: SecretCommand,
}

/// `shoal secret` subcommands.
#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Create a secret from a file, or from standard input with `-`.
    Create {
        /// Label (key=value).
        #[arg(short, long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
        /// Secret name.
        name: String,
        /// File holding the value, or `-` for standard input.
        file: String,
    },
    /// List secrets.
    #[command(alias = "list")]
    Ls {
        /// Only IDs.
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show secrets in detail (JSON, never the value).
    Inspect {
        /// Secrets (IDs, ID prefixes or names).
        #[arg(required = true)]
        secrets: Vec<String>,
        /// json (the default).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Remove secrets.
    #[command(alias = "remove")]
    Rm {
        /// Secrets.
        #[arg(required = true)]
        secrets: Vec<String>,
    },
}

/// Why a secret's value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretValueError {
    /// Nothing was read.
    #[error("secret data is empty")]
    Empty,
    /// More than [`MAX_SECRET_BYTES`].
    #[error("secret data is {len} bytes, more than the maximum of {MAX_SECRET_BYTES}")]
    TooLarge {
        /// Bytes read.
        len: usize,
    },
}

/// The request `secret create` sends for `data`.
fn create_request(
    name: &str,
    data: &[u8],
    labels: &[String],
) -> anyhow::Result<SecretCreateRequest> {
    if data.is_empty() {
        return Err(SecretValueError::Empty.into());
    }
    if data.len() > MAX_SECRET_BYTES {
        return Err(SecretValueError::TooLarge { len: data.len() }.into());
    }
    Ok(SecretCreateRequest {
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
            .context("cannot read the secret from standard input")?;
        return Ok(data);
    }
    std::fs::read(file).with_context(|| format!("cannot read the secret from {file}"))
}

/// `secret ls`; shoal secrets never change, so UPDATED is CREATED.
fn secret_table(secrets: &[SecretView], now: Timestamp) -> Table {
    let mut table = Table::new(&["ID", "NAME", "CREATED", "UPDATED"]);
    let mut sorted: Vec<&SecretView> = secrets.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for secret in sorted {
        let created = ago_secs(now, secret.created_at);
        table.row(vec![
            short_id(&secret.id, false).to_owned(),
            secret.name.clone(),
            created.clone(),
            created,
        ]);
    }
    table
}

/// Runs a `shoal secret` command.
pub fn run(args: SecretArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    block_on(async move {
        match args.command {
            SecretCommand::Create { labels, name, file } => {
                let request = create_request(&name, &read_value(&file)?, &labels)?;
                let secret: SecretView = client.post("/secrets/create", &request).await?;
                println!("{}", secret.id);
                Ok(())
            }
            SecretCommand::Ls { quiet, format } => {
                let secrets: Vec<SecretView> = client.get("/secrets").await?;
                let now = now();
                print_list(
                    format,
                    quiet,
                    &secrets,
                    |s| s.id.as_str(),
                    |s| secret_table(s, now),
                )
            }
            SecretCommand::Inspect { secrets, format: _ } => {
                let views: Vec<SecretView> =
                    objects::inspect_each(&client, "/secrets", &secrets).await?;
                print_json(&views)
            }
            SecretCommand::Rm { secrets } => {
                objects::remove_each(&client, "/secrets", &secrets).await
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_travel_as_padded_base64() {
        let request = create_request("db", b"hunter2\n", &["env=prod".into()]).unwrap();
        assert_eq!(request.data_b64, "aHVudGVyMgo=");
        assert_eq!(request.labels.get("env").map(String::as_str), Some("prod"));
    }

    #[test]
    fn empty_and_oversized_values_are_refused() {
        let empty = create_request("db", b"", &[]).unwrap_err();
        assert_eq!(empty.to_string(), "secret data is empty");
        let big = vec![b'x'; MAX_SECRET_BYTES + 1];
        assert!(create_request("db", &big, &[]).is_err());
        assert!(create_request("db", &big[1..], &[]).is_ok());
    }

    #[test]
    fn ls_shows_age() {
        let secret = SecretView {
            id: "s0123456789abcdefgh".into(),
            name: "db".into(),
            labels: Default::default(),
            created_at: 1_000,
        };
        let table = secret_table(&[secret], Timestamp(1_000_000 + 3 * 60_000));
        assert_eq!(
            table.render(),
            "ID             NAME   CREATED         UPDATED\n\
             s0123456789a   db     3 minutes ago   3 minutes ago\n"
        );
    }
}
