//! Batched UDP I/O for the WireGuard workers: up to [`BATCH`] datagrams per
//! system call (`recvmmsg`/`sendmmsg`), in buffers allocated once. With
//! `UDP_GRO` on the socket one slot may hold several datagrams of one
//! size back to back ([`Batch::segment_size`]).

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
    /// Control messages of each received slot (the `UDP_GRO` size).
    control: [[u64; 4]; BATCH],
    /// Size of the datagrams coalesced into each received slot (0: one).
    segments: [usize; BATCH],
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
            control: [[0; 4]; BATCH],
            segments: [0; BATCH],
            count: 0,
        }
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

    /// The size of the datagrams coalesced into slot `i` (the last may be
    /// shorter), or the slot's length if it holds one datagram.
    pub(crate) fn segment_size(&self, i: usize) -> usize {
        match self.segments[i] {
            0 => self.lens[i],
            size => size,
        }
    }

    /// Receive up to [`BATCH`] datagrams on `fd`, blocking for the first
    /// only; returns how many.
    pub(crate) fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let mut iovs = self.iovecs(SLOT, BATCH);
        let mut msgs = self.headers(&mut iovs, BATCH);
        for (msg, control) in msgs.iter_mut().zip(self.control.iter_mut()) {
            msg.msg_hdr.msg_control = control.as_mut_ptr().cast();
            msg.msg_hdr.msg_controllen = std::mem::size_of_val(control);
        }
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
            self.segments[i] = gro_segment(&msg.msg_hdr);
        }
        self.count = n;
        Ok(n)
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

/// The `UDP_GRO` segment size in a received message's control data, or 0.
fn gro_segment(msg: &libc::msghdr) -> usize {
    // SAFETY: the kernel filled msg_control up to msg_controllen; the
    // CMSG_* macros stay within it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == super::udp::SOL_UDP && (*cmsg).cmsg_type == super::udp::UDP_GRO
            {
                let size = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                return usize::try_from(size).unwrap_or(0);
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;

    #[test]
    fn datagrams_sent_are_received_in_order_with_their_sender() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        for i in 0..5u8 {
            let to = rx.local_addr().expect("addr");
            tx.send_to(&vec![i; 3 + usize::from(i)], to).expect("send");
        }
        let mut inb = Batch::new();
        let mut got = Vec::new();
        while got.len() < 5 {
            let n = inb.recv(rx.as_raw_fd()).expect("recv");
            for i in 0..n {
                let (data, from) = inb.datagram(i);
                assert_eq!(SocketAddr::V4(from), tx.local_addr().expect("addr"));
                assert_eq!(inb.segment_size(i), data.len(), "no GRO asked for");
                got.push((data[0], data.len()));
            }
        }
        assert_eq!(got, [(0, 3), (1, 4), (2, 5), (3, 6), (4, 7)]);
    }
}
