//! UDP segmentation offload for the send worker: WireGuard datagrams of
//! equal size to one peer go out in one `sendmsg` with a `UDP_SEGMENT`
//! control message, and the kernel (or the NIC) cuts them apart — one
//! trip through the UDP/IP stack for up to [`MAX_SEGMENTS`] datagrams. The
//! receive side's counterpart (`UDP_GRO`) is in `batch.rs`.

use std::{io, net::SocketAddrV4, os::fd::RawFd};

/// `SOL_UDP` socket options (`linux/udp.h`).
pub(crate) const SOL_UDP: libc::c_int = 17;
pub(crate) const UDP_SEGMENT: libc::c_int = 103;
pub(crate) const UDP_GRO: libc::c_int = 104;
/// Most datagrams per send (the kernel's UDP_MAX_SEGMENTS is at least 64).
const MAX_SEGMENTS: usize = 64;
/// Most bytes per send: one IPv4 datagram's worth, less the headers.
const MAX_GSO_BYTES: usize = 65_000;
/// The largest single datagram: a TAP frame plus WireGuard's overhead.
const MAX_DATAGRAM: usize = 65_536 + 64;

/// Datagrams waiting to go to one peer, back to back in one buffer: all
/// of one size but the last, which may be shorter.
pub(crate) struct GsoBatch {
    buf: Vec<u8>,
    len: usize,
    count: usize,
    segment: usize,
    /// A shorter datagram ended the run: the next one starts a new send.
    closed: bool,
    to: Option<SocketAddrV4>,
    /// Cleared when the kernel refuses `UDP_SEGMENT` (then one datagram
    /// per send).
    gso: bool,
}

impl GsoBatch {
    /// An empty batch (the buffer is allocated once, here).
    pub(crate) fn new() -> GsoBatch {
        GsoBatch {
            buf: vec![0; MAX_GSO_BYTES + MAX_DATAGRAM],
            len: 0,
            count: 0,
            segment: 0,
            closed: false,
            to: None,
            gso: true,
        }
    }

    /// Make room for the next datagram to `to`, sending what cannot share
    /// a send with it; returns how many datagrams the kernel refused.
    pub(crate) fn prepare(&mut self, fd: RawFd, to: SocketAddrV4) -> usize {
        let full = self.count == MAX_SEGMENTS || self.len + self.segment > MAX_GSO_BYTES;
        let refused = if self.count > 0 && (self.to != Some(to) || self.closed || full || !self.gso)
        {
            self.flush(fd)
        } else {
            0
        };
        self.to = Some(to);
        refused
    }

    /// Where the next datagram is written (after [`GsoBatch::prepare`]).
    pub(crate) fn tail(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// Keep the `len` bytes just written at the tail; returns how many
    /// datagrams the kernel refused if a send had to happen first.
    pub(crate) fn commit(&mut self, fd: RawFd, len: usize) -> usize {
        let mut refused = 0;
        if self.count == 0 {
            self.segment = len;
        } else if len < self.segment {
            self.closed = true;
        } else if len > self.segment {
            // Longer than the run's datagrams: send the run without it,
            // then start a new run with it.
            let start = self.len;
            refused = self.send_run(fd);
            self.buf.copy_within(start..start + len, 0);
            self.segment = len;
        }
        self.len += len;
        self.count += 1;
        refused
    }

    /// Send everything held; returns how many datagrams the kernel refused.
    pub(crate) fn flush(&mut self, fd: RawFd) -> usize {
        if self.count == 0 {
            return 0;
        }
        let refused = self.send_run(fd);
        self.closed = false;
        refused
    }

    /// Send the first `self.len` bytes and empty the batch.
    fn send_run(&mut self, fd: RawFd) -> usize {
        let Some(to) = self.to else { return 0 };
        let mut refused = 0;
        let mut single = self.count == 1 || !self.gso;
        if !single {
            match send(fd, &self.buf[..self.len], to, Some(self.segment)) {
                Ok(()) => {}
                // No UDP GSO here (or on this route): one datagram per
                // send from now on.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EIO | libc::EINVAL | libc::EOPNOTSUPP)
                    ) =>
                {
                    self.gso = false;
                    single = true;
                }
                Err(_) => refused = self.count,
            }
        }
        if single {
            for datagram in self.buf[..self.len].chunks(self.segment.max(1)) {
                refused += usize::from(send(fd, datagram, to, None).is_err());
            }
        }
        self.len = 0;
        self.count = 0;
        refused
    }
}

/// One `sendmsg` of `data` to `to`, cut into `segment`-byte datagrams by
/// the kernel when given.
fn send(fd: RawFd, data: &[u8], to: SocketAddrV4, segment: Option<usize>) -> io::Result<()> {
    let mut addr = sockaddr(to);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // Room for one cmsg carrying a u16, aligned as cmsghdr wants.
    let mut control = [0u64; 4];
    // SAFETY: msghdr is plain old data; all zeroes is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut addr).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    if let Some(segment) = segment {
        let size = segment as u16;
        msg.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is a pure computation.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as usize;
        // SAFETY: the control buffer is 32 bytes, more than CMSG_SPACE(2);
        // CMSG_FIRSTHDR points into it.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = SOL_UDP;
            (*cmsg).cmsg_type = UDP_SEGMENT;
            (*cmsg).cmsg_len = libc::CMSG_LEN(2) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), size);
        }
    }
    // SAFETY: every pointer in `msg` refers to a local that outlives the call.
    if unsafe { libc::sendmsg(fd, &msg, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Ask the kernel to hand over coalesced datagrams (`UDP_GRO`); the
/// receive batch splits them by the segment size it reports.
pub(crate) fn enable_gro(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads one c_int we own.
    let r = unsafe {
        libc::setsockopt(
            fd,
            SOL_UDP,
            UDP_GRO,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `to` as the kernel's `sockaddr_in`.
pub(crate) fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all zeroes is valid.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = addr.port().to_be();
    sa.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    sa
}

#[cfg(test)]
#[path = "udp_tests.rs"]
mod tests;
