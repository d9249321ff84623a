//! `shoal login` / `shoal logout`: the registry logins of the node the CLI
//! talks to (stored by its daemon, 0600, and used by its image pulls), as
//! `docker login` keeps them for its daemon's pulls.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context as _, bail};
use clap::Args;
use shoal_control::api::{RegistryLoginRequest, RegistryLoginResponse, RegistryLogoutRequest};

use super::api_conn::{ConnArgs, block_on};

/// `shoal login` options.
#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// User name.
    #[arg(short, long)]
    username: String,
    /// Read the password (or token) from standard input: its first line.
    #[arg(long)]
    password_stdin: bool,
    /// The registry, `host[:port]`.
    registry: String,
}

/// `shoal logout` options.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The registry, `host[:port]`.
    registry: String,
}

/// The password: the first line of standard input, which must not be a
/// terminal (no echo control here; Docker's `--password-stdin` way).
fn read_password(password_stdin: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !password_stdin || stdin.is_terminal() {
        bail!("give the password on standard input with --password-stdin");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("the password on standard input is empty");
    }
    Ok(password)
}

/// Runs `shoal login`.
pub fn login(args: LoginArgs) -> anyhow::Result<()> {
    let password = read_password(args.password_stdin)?;
    let client = args.conn.client()?;
    let request = RegistryLoginRequest {
        registry: args.registry,
        username: args.username,
        password,
    };
    let answer: RegistryLoginResponse =
        block_on(async move { Ok(client.post("/registry/login", &request).await?) })?;
    println!("{}", answer.status);
    Ok(())
}

/// Runs `shoal logout`.
pub fn logout(args: LogoutArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    let request = RegistryLogoutRequest {
        registry: args.registry,
    };
    let answer: RegistryLoginResponse =
        block_on(async move { Ok(client.post("/registry/logout", &request).await?) })?;
    println!("{}", answer.status);
    Ok(())
}
