//! A bulk TCP transfer between two namespaces whose integrity is checked end
//! to end: SHA-256 of what the sender read versus what the receiver got.

use std::net::Ipv4Addr;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::lab::cmd::{self, CmdError};

use super::probe::{self, ProbeError};

/// TCP port the receiver listens on.
pub const TRANSFER_PORT: u16 = 5001;
/// Longest a transfer may take, end to end.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(60);
/// Exit status of `timeout(1)` when the time ran out.
const TIMED_OUT: i32 = 124;

/// Errors from a transfer.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// A side failed (connection refused, reset, tool missing…).
    #[error(transparent)]
    Cmd(#[from] CmdError),
    /// The receiver never started listening.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// The receiver's output could not be collected.
    #[error("waiting for the receiver")]
    Wait(#[source] std::io::Error),
    /// A side did not finish within [`TRANSFER_TIMEOUT`].
    #[error("transfer did not finish within {TRANSFER_TIMEOUT:?}")]
    TimedOut,
    /// `sha256sum` printed something that is not a digest.
    #[error("no SHA-256 digest in `{0}`")]
    NoDigest(String),
}

/// Sends `bytes` random bytes over TCP from `from_netns` to `to_ip` (an address
/// in `to_netns`) on port [`TRANSFER_PORT`], and returns the SHA-256 digests
/// (hex) of the bytes sent and of the bytes received. Both sides are bounded by
/// [`TRANSFER_TIMEOUT`].
pub fn tcp_transfer(
    from_netns: &str,
    to_netns: &str,
    to_ip: Ipv4Addr,
    bytes: u64,
) -> Result<(String, String), TransferError> {
    let mut receiver = start_receiver(to_netns)?;
    let sent = probe::wait_listening(to_netns, TRANSFER_PORT, Duration::from_secs(10))
        .map_err(TransferError::from)
        .and_then(|()| send(from_netns, to_ip, bytes));
    let sent = match sent {
        Ok(digest) => digest,
        Err(e) => {
            stop(&mut receiver);
            return Err(e);
        }
    };
    let out = receiver.wait_with_output().map_err(TransferError::Wait)?;
    if out.status.code() == Some(TIMED_OUT) {
        return Err(TransferError::TimedOut);
    }
    Ok((sent, digest(&String::from_utf8_lossy(&out.stdout))?))
}

/// `socat` accepting one connection, its byte stream hashed; stdout is the digest.
fn start_receiver(netns: &str) -> Result<Child, TransferError> {
    let script = format!("socat -u TCP-LISTEN:{TRANSFER_PORT},reuseaddr - | sha256sum");
    let secs = TRANSFER_TIMEOUT.as_secs().to_string();
    let mut command = cmd::netns_command(netns, &["timeout", &secs, "sh", "-c", &script])?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command.spawn().map_err(|source| {
        TransferError::Cmd(CmdError::Spawn {
            command: cmd::describe(&command),
            source,
        })
    })
}

/// Streams random bytes to the receiver, hashing them on the way (`tee` into a
/// `sha256sum` writing to the script's stdout, fd 3). Returns the digest.
fn send(netns: &str, to_ip: Ipv4Addr, bytes: u64) -> Result<String, TransferError> {
    let script = format!(
        "set -o pipefail; exec 3>&1; head -c {bytes} /dev/urandom \
         | tee >(sha256sum >&3) | socat -u - TCP:{to_ip}:{TRANSFER_PORT}"
    );
    let secs = TRANSFER_TIMEOUT.as_secs().to_string();
    let command = cmd::netns_command(netns, &["timeout", &secs, "bash", "-c", &script])?;
    match cmd::output(command) {
        Ok(out) => digest(&out),
        Err(e) if e.exit_code() == Some(TIMED_OUT) => Err(TransferError::TimedOut),
        Err(e) => Err(e.into()),
    }
}

/// Ends the receiver after a failed send: `timeout` passes SIGTERM on to it.
fn stop(receiver: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(receiver.id()) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    // The send already failed; the receiver's own outcome adds nothing.
    let _ = receiver.wait();
}

/// The digest from `sha256sum` output (`<64 hex>  -`).
fn digest(out: &str) -> Result<String, TransferError> {
    out.split_whitespace()
        .next()
        .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
        .ok_or_else(|| TransferError::NoDigest(out.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sha256sum_output() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(digest(&format!("{hex}  -\n")).unwrap(), hex);
        assert!(matches!(digest(""), Err(TransferError::NoDigest(_))));
        assert!(matches!(digest("abc  -"), Err(TransferError::NoDigest(_))));
    }
}
