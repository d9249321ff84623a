//! Sending hand-built Ethernet frames from inside a lab namespace, for tests
//! that need packets no socket API would produce (truncated headers, bad
//! lengths). A dedicated thread joins the namespace, so the test process
//! itself never leaves its own.

use std::{ffi::CString, fs::File, io, os::fd::AsRawFd};

/// Errors sending raw frames.
#[derive(Debug, thiserror::Error)]
pub enum RawError {
    /// The namespace file could not be opened or joined.
    #[error("joining netns {netns}: {source}")]
    Setns {
        /// Namespace name.
        netns: String,
        /// The OS error.
        source: io::Error,
    },
    /// The interface does not exist in that namespace.
    #[error("no interface {iface} in netns {netns}")]
    NoSuchIface {
        /// Namespace name.
        netns: String,
        /// Interface name.
        iface: String,
    },
    /// Opening, binding or writing the packet socket failed.
    #[error("packet socket on {iface}: {source}")]
    Socket {
        /// Interface name.
        iface: String,
        /// The OS error.
        source: io::Error,
    },
    /// The sending thread panicked.
    #[error("raw sender thread panicked")]
    Panicked,
}

/// Send each frame (starting at the Ethernet header) out of `iface` in netns
/// `netns`, exactly as given.
pub fn send_frames(netns: &str, iface: &str, frames: &[Vec<u8>]) -> Result<(), RawError> {
    let (name, iface, frames) = (netns.to_owned(), iface.to_owned(), frames.to_vec());
    in_netns(netns, move || send_in_current_netns(&name, &iface, &frames))?
}

/// Run `f` on a thread that has joined network namespace `netns`: sockets it
/// opens live in that namespace.
pub fn in_netns<T: Send + 'static>(
    netns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RawError> {
    let netns = netns.to_owned();
    std::thread::spawn(move || {
        join_netns(&netns)?;
        Ok(f())
    })
    .join()
    .map_err(|_| RawError::Panicked)?
}

fn join_netns(netns: &str) -> Result<(), RawError> {
    let err = |source| RawError::Setns {
        netns: netns.to_owned(),
        source,
    };
    let file = File::open(format!("/run/netns/{netns}")).map_err(err)?;
    // SAFETY: a valid namespace fd; only this thread's namespace changes.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(err(io::Error::last_os_error()));
    }
    Ok(())
}

fn send_in_current_netns(netns: &str, iface: &str, frames: &[Vec<u8>]) -> Result<(), RawError> {
    let sock_err = |source| RawError::Socket {
        iface: iface.to_owned(),
        source,
    };
    let name = CString::new(iface).map_err(|e| sock_err(io::Error::other(e)))?;
    // SAFETY: a NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(RawError::NoSuchIface {
            netns: netns.to_owned(),
            iface: iface.to_owned(),
        });
    }
    // SAFETY: plain socket(2) call; the fd is closed by the guard below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    if fd < 0 {
        return Err(sock_err(io::Error::last_os_error()));
    }
    let _guard = FdGuard(fd);
    // SAFETY: sockaddr_ll is plain data; zero is a valid starting value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_ifindex = ifindex as i32;
    addr.sll_halen = 6;
    for frame in frames {
        // SAFETY: buffer and address are valid for the call's duration.
        let sent = unsafe {
            libc::sendto(
                fd,
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if sent < 0 {
            return Err(sock_err(io::Error::last_os_error()));
        }
    }
    Ok(())
}

struct FdGuard(i32);

impl Drop for FdGuard {
    fn drop(&mut self) {
        // SAFETY: we own this fd.
        unsafe { libc::close(self.0) };
    }
}
