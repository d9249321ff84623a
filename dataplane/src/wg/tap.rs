//! The TAP device between the eBPF programs and the WireGuard workers.
//!
//! Every frame crosses it behind a virtio-net header (`IFF_VNET_HDR`), and
//! the device offers the kernel checksum and segmentation offloads
//! (`TUNSETOFFLOAD`), UDP-tunnel GSO included (Linux 6.17+): a task's TCP
//! stream, VXLAN-encapsulated by the eBPF programs, reaches the send
//! worker as 64 KiB super-frames instead of one read per segment.

use std::{
    fs::File,
    io::{self, Read, Write},
    os::fd::AsRawFd,
};

/// MTU of the TAP device (a TAP allows at most 65521): large, so it never
/// limits a frame (the task
/// MTU of encrypted networks already keeps frames within the underlay).
pub(crate) const TAP_MTU: u32 = 65_000;

/// `TUNSETOFFLOAD` flags (`linux/if_tun.h`): partial checksums, TSO for
/// IPv4, and TSO inside UDP tunnels (6.17+; not in older uapi headers).
const TUN_F_CSUM: libc::c_ulong = 0x01;
const TUN_F_TSO4: libc::c_ulong = 0x02;
const TUN_F_UDP_TUNNEL_GSO: libc::c_ulong = 0x080;
/// `_IOW('T', 208, unsigned int)` and `_IOW('T', 216, int)`.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;

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
    /// Whether the kernel took the offloads (else every frame arrives
    /// whole, checksums complete, still behind a virtio-net header).
    pub(crate) offloads: bool,
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
            flags: (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short,
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
        let size = super::gso::VNET_HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int we own.
        if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETVNETHDRSZ, &size) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let offloads = set_offloads(&file, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_UDP_TUNNEL_GSO)
            .or_else(|_| set_offloads(&file, 0))?;
        Ok(Tap { file, offloads })
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

    /// Write one frame (its virtio-net header first).
    pub(crate) fn write(&self, frame: &[u8]) -> io::Result<()> {
        (&self.file).write(frame).map(|_| ())
    }

    /// Write one Ethernet frame behind a virtio-net header of zeroes
    /// (nothing to offload, the checksums complete).
    pub(crate) fn write_plain(&self, frame: &[u8]) -> io::Result<()> {
        let hdr = [0u8; super::gso::VNET_HDR_LEN];
        (&self.file)
            .write_vectored(&[io::IoSlice::new(&hdr), io::IoSlice::new(frame)])
            .map(|_| ())
    }
}

/// Offer the kernel `flags`; true once it took them. A kernel before 6.17
/// refuses the UDP-tunnel flag (the caller then asks for none: TSO
/// without it would only hand over frames the worker cannot cut).
fn set_offloads(file: &File, flags: libc::c_ulong) -> io::Result<bool> {
    // SAFETY: TUNSETOFFLOAD takes an integer argument.
    if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETOFFLOAD, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(flags != 0)
}
