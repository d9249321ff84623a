//! How CLI commands find the daemon (Docker's convention): `--host
//! unix:///path` or `$SHOAL_HOST`, else `/run/shoal/<node>.sock` with the
//! node from `$SHOAL_NODE` or the host name.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use shoal_control::api::ApiClient;

/// Where the daemon's API socket is.
#[derive(Debug, Args)]
pub struct ConnArgs {
    /// Daemon socket to connect to (unix:///path).
    #[arg(long = "host", short = 'H', env = "SHOAL_HOST", global = true)]
    host: Option<String>,
}

/// The node name: `$SHOAL_NODE`, else the host name.
pub fn default_node_name() -> anyhow::Result<String> {
    if let Ok(name) = std::env::var("SHOAL_NODE")
        && !name.is_empty()
    {
        return Ok(name);
    }
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("cannot read the host name")?;
    Ok(name.trim().to_owned())
}

/// The default API socket of node `name`.
pub fn default_socket(name: &str) -> PathBuf {
    PathBuf::from(format!("/run/shoal/{name}.sock"))
}

impl ConnArgs {
    /// A client for the chosen daemon.
    pub fn client(&self) -> anyhow::Result<ApiClient> {
        let socket = match &self.host {
            Some(host) => match host.strip_prefix("unix://") {
                Some(path) if !path.is_empty() => PathBuf::from(path),
                _ => bail!("unsupported host {host:?}: expected unix:///path/to/socket"),
            },
            None => default_socket(&default_node_name()?),
        };
        Ok(ApiClient::new(socket))
    }
}

/// Runs an async CLI body on a small runtime.
pub fn block_on<T>(
    body: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(body)
}

/// `text` made safe as one segment of a request path (names typed by the
/// user end up in URLs): everything but unreserved characters is
/// percent-encoded.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Moves a `-H`/`--host` given before the command group to just after
/// it, so `shoal -H unix:///s.sock service ls` works as `docker -H ...
/// service ls` does (clap knows the option only on the groups that talk
/// to a daemon).
pub fn hoist_host(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(first) = args.get(1).and_then(|a| a.to_str()) else {
        return args;
    };
    let taken = if first == "-H" || first == "--host" {
        2
    } else if first.starts_with("--host=") || (first.starts_with("-H") && first.len() > 2) {
        1
    } else {
        return args;
    };
    if args.len() < 1 + taken + 1 {
        return args;
    }
    let mut rest = args;
    let host: Vec<_> = rest.drain(1..1 + taken).collect();
    // After the command group (now at index 1).
    rest.splice(2..2, host);
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_their_path_segment() {
        assert_eq!(path_segment("web-1.x"), "web-1.x");
        assert_eq!(
            path_segment("../nodes?force=true"),
            "..%2Fnodes%3Fforce%3Dtrue"
        );
    }

    #[test]
    fn a_host_before_the_command_group_moves_after_it() {
        let args =
            |line: &str| -> Vec<std::ffi::OsString> { line.split(' ').map(Into::into).collect() };
        let hoisted = |line: &str| hoist_host(args(line));
        assert_eq!(
            hoisted("shoal -H unix:///s.sock service ls"),
            args("shoal service -H unix:///s.sock ls")
        );
        assert_eq!(
            hoisted("shoal --host=unix:///s.sock node ls"),
            args("shoal node --host=unix:///s.sock ls")
        );
        assert_eq!(
            hoisted("shoal -Hunix:///s.sock swarm inspect"),
            args("shoal swarm -Hunix:///s.sock inspect")
        );
        for unchanged in [
            "shoal service -H unix:///s.sock ls",
            "shoal node ls",
            "shoal -H",
            "shoal",
        ] {
            assert_eq!(hoisted(unchanged), args(unchanged), "{unchanged}");
        }
    }
}
