//! systemd's readiness protocol (`sd_notify`): with `Type=notify` systemd
//! passes `NOTIFY_SOCKET` (a datagram socket path, or `@name` in the
//! abstract namespace) and starts the units ordered after shoal only once
//! the daemon says `READY=1` — after its API socket is bound and its
//! node state loaded, so `shoal ...` in a later unit finds a daemon that
//! answers. Without `NOTIFY_SOCKET` (not run by systemd) nothing is sent.

use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// A message systemd could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The socket could not be made or written.
    #[error("cannot notify systemd at {socket}: {source}")]
    Send {
        /// `NOTIFY_SOCKET`.
        socket: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Sends `state` (`READY=1`, `STOPPING=1`, `STATUS=...` lines) to systemd;
/// `Ok(false)` when not run by systemd.
pub(crate) fn notify(state: &str) -> Result<bool, NotifyError> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(socket) => notify_to(&socket, state).map(|()| true),
        None => Ok(false),
    }
}

/// Sends `state` to the notification socket `socket`.
fn notify_to(socket: &std::ffi::OsStr, state: &str) -> Result<(), NotifyError> {
    let failed = |source| NotifyError::Send {
        socket: socket.to_string_lossy().into_owned(),
        source,
    };
    let bytes = socket.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name),
        None => SocketAddr::from_pathname(socket),
    }
    .map_err(failed)?;
    let sender = UnixDatagram::unbound().map_err(failed)?;
    sender
        .send_to_addr(state.as_bytes(), &addr)
        .map_err(failed)?;
    Ok(())
}

/// [`notify`], a failure logged: systemd's bookkeeping must not stop the
/// daemon.
pub(crate) fn tell(state: &str) {
    if let Err(err) = notify(state) {
        log::warn!("{err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_reaches_a_path_socket_and_an_abstract_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        notify_to(path.as_os_str(), "READY=1\nSTATUS=up").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=up");

        let name = format!("shoal-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        notify_to(std::ffi::OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }

    #[test]
    fn nobody_listening_is_an_error_that_names_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let err = notify_to(path.as_os_str(), "READY=1").unwrap_err();
        assert!(err.to_string().contains("absent"), "{err}");
    }
}
