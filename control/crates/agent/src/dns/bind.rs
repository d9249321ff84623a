//! Binding the resolver's sockets inside a task's network namespace: a
//! short-lived thread enters the namespace, binds, and ends; the sockets
//! stay in the namespace they were made in while the daemon's runtime
//! serves them from its own.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;

use super::DnsError;

/// The address the resolver answers on in every task (Docker's).
pub const RESOLVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// UDP and TCP sockets on [`RESOLVER_IP`]:53 in the namespace at `netns`,
/// non-blocking (ready for tokio).
pub(crate) fn bind_in(netns: &Path) -> Result<(UdpSocket, TcpListener), DnsError> {
    let path = netns.to_owned();
    std::thread::spawn(move || bind_here_after_entering(&path))
        .join()
        .map_err(|_| DnsError::BindPanicked)?
}

/// Runs on a thread of its own, which never returns to the daemon's
/// namespace: it ends right after binding.
fn bind_here_after_entering(netns: &Path) -> Result<(UdpSocket, TcpListener), DnsError> {
    let file = File::open(netns).map_err(|source| DnsError::Netns {
        path: netns.to_owned(),
        source,
    })?;
    // SAFETY: setns on a file descriptor we own; it changes only this
    // thread's network namespace.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(DnsError::Netns {
            path: netns.to_owned(),
            source: std::io::Error::last_os_error(),
        });
    }
    let addr = SocketAddr::from((RESOLVER_IP, 53));
    let bind_err = |source| DnsError::Bind {
        path: netns.to_owned(),
        source,
    };
    let udp = UdpSocket::bind(addr).map_err(bind_err)?;
    let tcp = TcpListener::bind(addr).map_err(bind_err)?;
    udp.set_nonblocking(true).map_err(bind_err)?;
    tcp.set_nonblocking(true).map_err(bind_err)?;
    Ok((udp, tcp))
}
