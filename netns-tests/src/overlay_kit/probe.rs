//! Waiting for a server inside a namespace to accept connections, so clients
//! never race its start-up.

use std::time::{Duration, Instant};

use crate::lab::cmd::{self, CmdError};

/// How often [`wait_listening`] looks again.
const POLL: Duration = Duration::from_millis(20);

/// Errors waiting for a listener.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// `ss` could not be run in the namespace.
    #[error(transparent)]
    Cmd(#[from] CmdError),
    /// Nothing listened on the port within the timeout.
    #[error("nothing listening on TCP port {port} in {netns} after {timeout:?}")]
    NotListening {
        /// The namespace.
        netns: String,
        /// The TCP port.
        port: u16,
        /// How long we waited.
        timeout: Duration,
    },
}

/// Returns once a TCP socket listens on `port` in `netns`, or fails after `timeout`.
pub fn wait_listening(netns: &str, port: u16, timeout: Duration) -> Result<(), ProbeError> {
    let deadline = Instant::now() + timeout;
    let filter = format!("sport = :{port}");
    loop {
        let out = cmd::output(cmd::netns_command(netns, &["ss", "-Hltn", &filter])?)?;
        if !out.trim().is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ProbeError::NotListening {
                netns: netns.to_owned(),
                port,
                timeout,
            });
        }
        std::thread::sleep(POLL);
    }
}
