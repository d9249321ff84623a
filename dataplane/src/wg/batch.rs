//! Batched UDP I/O for the WireGuard workers: up to [`BATCH`] datagrams per
//! system call (`recvmmsg`/`sendmmsg`), in buffers allocated once.

use std::{
    io,
    net::{Ipv4Addr, SocketAddrV4},
    os::fd::RawFd,
};

/// Datagrams per system call.
pub(crate) const BATCH: usize = 32;
/// Bytes per datagram slot: the largest frame plus WireGuard's overhead.
pub(crate) const SLOT: usize = 65_536 + 64;

/// [`BATCH`] datagram slots with their lengths and peer addresses.
pub(crate) struct Batch {
    bufs: Vec<u8>,
    lens: [usize; BATCH],
    addrs: [libc::sockaddr_in; BATCH],
    count: usize,
}

impl Batch {
    pub(crate) fn new() -> Batch {
        // SAFETY: sockaddr_in is plain old data; all zeroes is valid.
        let zero: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        Batch {
            bufs: vec![0; BATCH * SLOT],
            lens: [0; BATCH],
            addrs: [zero; BATCH],
            count: 0,
        }
    }

    /// How many datagrams the batch holds.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Whether no slot is free.
    pub(crate) fn is_full(&self) -> bool {
        self.count == BATCH
    }

    /// The next free slot, to write a datagram into (then [`Batch::push`]).
    pub(crate) fn next_slot(&mut self) -> &mut [u8] {
        let start = self.count * SLOT;
        &mut self.bufs[start..start + SLOT]
    }

    /// Keep the first `len` bytes of the next slot, for `to`.
    pub(crate) fn push(&mut self, len: usize, to: SocketAddrV4) {
        self.lens[self.count] = len;
        self.addrs[self.count] = sockaddr(to);
        self.count += 1;
    }

    /// Datagram `i` and where it came from (after [`Batch::recv`]).
    pub(crate) fn datagram(&self, i: usize) -> (&[u8], SocketAddrV4) {
        let start = i * SLOT;
        let a = &self.addrs[i];
        let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
        (
            &self.bufs[start..start + self.lens[i]],
            SocketAddrV4::new(ip, u16::from_be(a.sin_port)),
        )
    }

    /// Receive up to [`BATCH`] datagrams on `fd`, blocking for the first
    /// only; returns how many.
    pub(crate) fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let mut iovs = self.iovecs(SLOT, BATCH);
        let mut msgs = self.headers(&mut iovs, BATCH);
        // SAFETY: every header points at a live iovec and sockaddr of
        // this batch, each iovec at its own SLOT-sized buffer.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            self.count = 0;
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for (i, msg) in msgs.iter().take(n).enumerate() {
            self.lens[i] = msg.msg_len as usize;
        }
        self.count = n;
        Ok(n)
    }

    /// Send every pushed datagram on `fd` and empty the batch; returns how
    /// many the kernel refused.
    pub(crate) fn send(&mut self, fd: RawFd) -> usize {
        let total = self.count;
        let mut sent = 0;
        let mut refused = 0;
        while sent < total {
            let mut iovs = self.iovecs_from(sent, total);
            let mut msgs = self.headers_from(&mut iovs, sent, total);
            // SAFETY: as in `recv`; lengths are those pushed.
            let n =
                unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), (total - sent) as libc::c_uint, 0) };
            if n <= 0 {
                // The first datagram failed (e.g. no route): skip it.
                refused += 1;
                sent += 1;
            } else {
                sent += n as usize;
            }
        }
        self.count = 0;
        refused
    }

    fn iovecs(&mut self, len: usize, count: usize) -> Vec<libc::iovec> {
        let base = self.bufs.as_mut_ptr();
        (0..count)
            .map(|i| libc::iovec {
                // SAFETY: i * SLOT stays inside `bufs` (BATCH * SLOT bytes).
                iov_base: unsafe { base.add(i * SLOT) }.cast(),
                iov_len: len,
            })
            .collect()
    }

    fn iovecs_from(&mut self, from: usize, to: usize) -> Vec<libc::iovec> {
        let base = self.bufs.as_mut_ptr();
        (from..to)
            .map(|i| libc::iovec {
                // SAFETY: as in `iovecs`.
                iov_base: unsafe { base.add(i * SLOT) }.cast(),
                iov_len: self.lens[i],
            })
            .collect()
    }

    fn headers(&mut self, iovs: &mut [libc::iovec], count: usize) -> Vec<libc::mmsghdr> {
        self.headers_from(iovs, 0, count)
    }

    fn headers_from(
        &mut self,
        iovs: &mut [libc::iovec],
        from: usize,
        to: usize,
    ) -> Vec<libc::mmsghdr> {
        let addrs = self.addrs.as_mut_ptr();
        iovs.iter_mut()
            .zip(from..to)
            .map(|(iov, i)| {
                // SAFETY: mmsghdr is plain old data; all zeroes is valid.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                // SAFETY: i < BATCH.
                m.msg_hdr.msg_name = unsafe { addrs.add(i) }.cast();
                m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect()
    }
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all zeroes is valid.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = addr.port().to_be();
    sa.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    sa
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_batch_sent_is_a_batch_received_in_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let SocketAddr::V4(to) = rx.local_addr().expect("addr") else {
            panic!("IPv4 expected");
        };
        let mut out = Batch::new();
        for i in 0..5u8 {
            let slot = out.next_slot();
            slot[..3].copy_from_slice(&[i, i, i]);
            out.push(3 + usize::from(i), to);
        }
        assert_eq!(out.send(tx.as_raw_fd()), 0);
        let mut inb = Batch::new();
        let mut got = Vec::new();
        while got.len() < 5 {
            let n = inb.recv(rx.as_raw_fd()).expect("recv");
            for i in 0..n {
                let (data, from) = inb.datagram(i);
                assert_eq!(SocketAddr::V4(from), tx.local_addr().expect("addr"));
                got.push((data[0], data.len()));
            }
        }
        assert_eq!(got, [(0, 3), (1, 4), (2, 5), (3, 6), (4, 7)]);
    }

    use std::net::SocketAddr;
}
