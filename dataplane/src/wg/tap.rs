//! The TAP device between the eBPF programs and the WireGuard workers.

use std::{
    fs::File,
    io::{self, Read, Write},
    os::fd::AsRawFd,
};

/// MTU of the TAP device (a TAP allows at most 65521): large, so it never
/// limits a frame (the task
/// MTU of encrypted networks already keeps frames within the underlay).
pub(crate) const TAP_MTU: u32 = 65_000;

/// `struct ifreq` as TUNSETIFF reads it: a name and the flags.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// An open TAP device.
pub(crate) struct Tap {
    file: File,
}

impl Tap {
    /// Open (creating it if needed) the persistent TAP device `name`. It
    /// is persistent so its ifindex, which the data plane's settings name,
    /// survives a daemon restart; while no process has it open the kernel
    /// drops what is sent to it.
    pub(crate) fn open(name: &str) -> io::Result<Tap> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")?;
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
            _pad: [0; 22],
        };
        if name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: TUNSETIFF reads (and writes back) an ifreq we own.
        if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: TUNSETPERSIST takes an integer argument.
        if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETPERSIST, 1 as libc::c_ulong) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Tap { file })
    }

    /// Make reads return `WouldBlock` instead of waiting, so a worker can
    /// drain every queued frame into one batch.
    pub(crate) fn set_nonblocking(&self) -> io::Result<()> {
        let fd = self.file.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        // SAFETY: as above.
        if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Wait until a frame can be read.
    pub(crate) fn wait_readable(&self) {
        let mut pfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own; an error or EINTR just returns early.
        unsafe { libc::poll(&mut pfd, 1, -1) };
    }

    /// Read one frame.
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    /// Write one frame.
    pub(crate) fn write(&self, frame: &[u8]) -> io::Result<()> {
        (&self.file).write(frame).map(|_| ())
    }
}
