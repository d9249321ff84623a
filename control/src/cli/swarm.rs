//! `shoal swarm ...`: create, join, leave and unlock a swarm.

use clap::{Args, Subcommand};
use serde_json::Value;
use shoal_control::api::{
    InitRequest, InitResponse, JoinRequest, JoinResponse, JoinTokenResponse, SwarmInfo,
    SwarmUpdateRequest, UnlockKeyResponse, UnlockRequest,
};

use super::api_conn::{ConnArgs, block_on};
use super::output::{Format, print_json, print_text};

/// `shoal swarm` and its connection options.
#[derive(Debug, Args)]
pub struct SwarmArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: SwarmCommand,
}

/// `shoal swarm` subcommands.
#[derive(Debug, Subcommand)]
enum SwarmCommand {
    /// Create a swarm with this node as its first manager.
    Init {
        /// Address other nodes reach this one at (IP or IP:PORT).
        #[arg(long)]
        advertise_addr: Option<String>,
        /// Address the control listener binds (raft and node RPCs).
        #[arg(long, default_value = "0.0.0.0:2377")]
        listen_addr: String,
        /// Keep managers' data keys locked by an unlock key after a restart.
        #[arg(long)]
        autolock: bool,
        /// UDP port of the overlay data path (default 4789).
        #[arg(long)]
        data_path_port: Option<u16>,
        /// Lifetime of node certificates (e.g. 2160h, 90m, 30s).
        #[arg(long, value_parser = parse_duration)]
        cert_expiry: Option<u64>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Join a swarm as a worker or a manager (the token decides).
    Join {
        /// Join token (SWMTKN-1-...).
        #[arg(long)]
        token: String,
        /// Address other nodes reach this one at (IP or IP:PORT).
        #[arg(long)]
        advertise_addr: Option<String>,
        /// Address the control listener binds if this node is or becomes a manager.
        #[arg(long, default_value = "0.0.0.0:2377")]
        listen_addr: String,
        /// A manager's HOST:PORT.
        remote: String,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Print (or rotate) the join token of a role.
    JoinToken {
        /// worker or manager.
        role: String,
        /// Replace the token; the old one stops working.
        #[arg(long)]
        rotate: bool,
        /// Print the token only.
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Leave the swarm.
    Leave {
        /// Leave even if this breaks the managers' quorum.
        #[arg(short, long)]
        force: bool,
    },
    /// Unlock an autolocked manager after a restart.
    Unlock {
        /// The unlock key (read from standard input if absent).
        #[arg(long)]
        key: Option<String>,
    },
    /// Print (or rotate) the unlock key.
    UnlockKey {
        /// Replace the key.
        #[arg(long)]
        rotate: bool,
        /// Print the key only.
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Change the swarm's settings.
    Update {
        /// Lock managers' data keys with an unlock key after a restart
        /// (`--autolock=false` turns it off).
        #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
        autolock: Option<bool>,
        /// Lifetime of node certificates issued from now on (e.g. 2160h).
        #[arg(long, value_parser = parse_duration)]
        cert_expiry: Option<u64>,
        /// Time between scheduled rotations of the encrypted networks' key
        /// (default 12h), counted from the current key's creation.
        #[arg(long, value_parser = parse_duration)]
        key_rotation: Option<u64>,
        /// How often nodes send a heartbeat (default 1s; a node silent for
        /// 3.5 periods is marked down). Longer periods cost the managers
        /// less in large swarms.
        #[arg(long, value_parser = parse_duration)]
        dispatcher_heartbeat: Option<u64>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show this node's swarm state.
    Inspect {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// Parses `90s`, `45m`, `2160h`, `7d` or plain seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let value: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?}: use s, m, h or d"
            ));
        }
    };
    match value.checked_mul(scale) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => Err(format!("invalid duration {text:?}")),
    }
}

/// Runs a `shoal swarm` command.
pub fn run(args: SwarmArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    block_on(async move {
        match args.command {
            SwarmCommand::Init {
                advertise_addr,
                listen_addr,
                autolock,
                data_path_port,
                cert_expiry,
                format,
            } => {
                let request = InitRequest {
                    advertise_addr,
                    listen_addr,
                    autolock,
                    data_path_port,
                    cert_expiry_secs: cert_expiry,
                };
                let response: InitResponse = client.post("/swarm/init", &request).await?;
                print_text(format, &response, init_text)
            }
            SwarmCommand::Join {
                token,
                advertise_addr,
                listen_addr,
                remote,
                format,
            } => {
                let request = JoinRequest {
                    remote_addr: remote,
                    token,
                    advertise_addr,
                    listen_addr,
                };
                let response: JoinResponse = client.post("/swarm/join", &request).await?;
                print_text(format, &response, |r| {
                    format!("This node joined a swarm as a {}.\n", r.role)
                })
            }
            SwarmCommand::JoinToken {
                role,
                rotate,
                quiet,
                format,
            } => {
                let path = format!("/swarm/join-token/{role}?rotate={rotate}");
                let response: JoinTokenResponse = client.get(&path).await?;
                print_text(format, &response, |r| token_text(r, rotate, quiet))
            }
            SwarmCommand::Leave { force } => {
                let _: Value = client
                    .post(&format!("/swarm/leave?force={force}"), &())
                    .await?;
                println!("Node left the swarm.");
                Ok(())
            }
            SwarmCommand::Unlock { key } => {
                let key = match key {
                    Some(key) => key,
                    None => read_key()?,
                };
                let _: Value = client.post("/swarm/unlock", &UnlockRequest { key }).await?;
                Ok(())
            }
            SwarmCommand::UnlockKey {
                rotate,
                quiet,
                format,
            } => {
                let path = format!("/swarm/unlockkey?rotate={rotate}");
                let response: UnlockKeyResponse = client.get(&path).await?;
                print_text(format, &response, |r| unlock_key_text(r, rotate, quiet))
            }
            SwarmCommand::Update {
                autolock,
                cert_expiry,
                key_rotation,
                dispatcher_heartbeat,
                format,
            } => {
                let request = SwarmUpdateRequest {
                    autolock,
                    cert_expiry_secs: cert_expiry,
                    key_rotation_secs: key_rotation,
                    heartbeat_period_ms: dispatcher_heartbeat.map(|secs| secs.saturating_mul(1000)),
                };
                if request == SwarmUpdateRequest::default() {
                    anyhow::bail!(
                        "nothing to update: give --autolock, --cert-expiry, --key-rotation or \
                         --dispatcher-heartbeat"
                    );
                }
                let response: UnlockKeyResponse = client.post("/swarm/update", &request).await?;
                print_text(format, &response, |r| update_text(r, autolock))
            }
            SwarmCommand::Inspect { format } => {
                let info: SwarmInfo = client.get("/swarm").await?;
                match format {
                    Format::Json => print_json(&info),
                    Format::Table => print_json(&info),
                }
            }
        }
    })
}

fn read_key() -> anyhow::Result<String> {
    eprint!("Please enter unlock key: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

fn init_text(r: &InitResponse) -> String {
    let mut text = format!(
        "Swarm initialized: current node ({}) is now a manager.\n\n\
         To add a worker to this swarm, run the following command:\n\n    \
         shoal swarm join --token {} {}\n\n\
         To add a manager to this swarm, run 'shoal swarm join-token manager' and follow the instructions.\n",
        r.node_id, r.worker_token, r.manager_addr
    );
    if let Some(key) = &r.unlock_key {
        text.push_str(&format!(
            "\nTo unlock a swarm manager after it restarts, run the `shoal swarm unlock`\n\
             command and provide the following key:\n\n    {key}\n\n\
             Remember to store this key in a password manager, since without it you\n\
             will not be able to restart the manager.\n"
        ));
    }
    text
}

/// Docker's answer to `swarm update`: the unlock key when autolock was
/// turned on.
fn update_text(r: &UnlockKeyResponse, autolock: Option<bool>) -> String {
    let mut text = "Swarm updated.\n".to_owned();
    if let (Some(true), Some(key)) = (autolock, &r.key) {
        text.push_str(&format!(
            "To unlock a swarm manager after it restarts, run the `shoal swarm unlock`\n\
             command and provide the following key:\n\n    {key}\n\n\
             Remember to store this key in a password manager, since without it you\n\
             will not be able to restart the manager.\n"
        ));
    }
    text
}

fn token_text(r: &JoinTokenResponse, rotated: bool, quiet: bool) -> String {
    if quiet {
        return format!("{}\n", r.token);
    }
    let mut text = String::new();
    if rotated {
        text.push_str(&format!("Successfully rotated {} join token.\n\n", r.role));
    }
    text.push_str(&format!(
        "To add a {} to this swarm, run the following command:\n\n    shoal swarm join --token {} {}\n",
        r.role, r.token, r.manager_addr
    ));
    text
}

fn unlock_key_text(r: &UnlockKeyResponse, rotated: bool, quiet: bool) -> String {
    let key = r.key.clone().unwrap_or_default();
    if quiet {
        return format!("{key}\n");
    }
    let mut text = String::new();
    if rotated {
        text.push_str("Successfully rotated manager unlock key.\n\n");
    }
    text.push_str(&format!(
        "To unlock a swarm manager after it restarts, run the `shoal swarm unlock`\n\
         command and provide the following key:\n\n    {key}\n"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30"), Ok(30));
        assert_eq!(parse_duration("30s"), Ok(30));
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("2160h"), Ok(2160 * 3600));
        assert_eq!(parse_duration("7d"), Ok(7 * 86_400));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("h").is_err());
    }
}
