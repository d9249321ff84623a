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
}
