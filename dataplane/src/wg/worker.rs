//! The WireGuard workers: TAP → encrypt → UDP, UDP → decrypt → TAP, and
//! the timers (handshake retries, rekeying, keepalives). The TAP hands
//! over super-frames (`gso.rs` cuts them into packets), equal datagrams to
//! a peer leave in one `UDP_SEGMENT` send (`udp.rs`), arrive coalesced by
//! `UDP_GRO` in `recvmmsg` batches (`batch.rs`), and, decrypted, go into
//! the TAP joined into super-frames again (`gro.rs`); buffers are
//! allocated once per worker, never per packet.

use std::{
    cell::Cell,
    net::{IpAddr, Ipv4Addr, SocketAddrV4, UdpSocket},
    os::fd::AsRawFd,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use boringtun::noise::{TunnResult, errors::WireGuardError};

use super::{
    PrivateKey, WgCounters,
    batch::Batch,
    gro::Coalescer,
    gso::{self, VNET_HDR_LEN, VnetHdr},
    peers::{Peer, PeerTable},
    tap::Tap,
    udp::GsoBatch,
};

/// Ethernet header in front of the VXLAN packet on the TAP device.
const ETH_LEN: usize = 14;
/// Largest read from the TAP: a super-frame (at most 64 KiB of IP packet)
/// with its Ethernet and virtio-net headers.
const BUF_LEN: usize = 65_536 + 256;
/// Largest segment cut from a super-frame (TAP MTU plus Ethernet header).
const SEGMENT_LEN: usize = 65_536;
/// How often the timers run (boringtun expects about every 250 ms).
const TIMER_TICK: Duration = Duration::from_millis(250);

/// What the workers share.
pub(crate) struct Shared {
    pub(crate) private_key: PrivateKey,
    pub(crate) port: u16,
    pub(crate) peers: PeerTable,
    tap: Tap,
    socket: UdpSocket,
    drops: Drops,
    /// Super-frames written into the TAP (not a drop: a statistic).
    super_frames: AtomicU64,
}

#[derive(Default)]
struct Drops {
    no_peer_key: AtomicU64,
    unknown_sender: AtomicU64,
    decrypt_failed: AtomicU64,
    wrong_source: AtomicU64,
    malformed: AtomicU64,
    io_errors: AtomicU64,
}

impl Shared {
    pub(crate) fn new(private_key: PrivateKey, port: u16, tap: Tap, socket: UdpSocket) -> Shared {
        Shared {
            private_key,
            port,
            peers: PeerTable::default(),
            tap,
            socket,
            drops: Drops::default(),
            super_frames: AtomicU64::new(0),
        }
    }

    pub(crate) fn tap_offloads(&self) -> bool {
        self.tap.offloads
    }

    pub(crate) fn rx_super_frames(&self) -> u64 {
        self.super_frames.load(Relaxed)
    }

    pub(crate) fn counters(&self) -> WgCounters {
        let d = &self.drops;
        WgCounters {
            no_peer_key: d.no_peer_key.load(Relaxed),
            unknown_sender: d.unknown_sender.load(Relaxed),
            decrypt_failed: d.decrypt_failed.load(Relaxed),
            wrong_source: d.wrong_source.load(Relaxed),
            malformed: d.malformed.load(Relaxed),
            io_errors: d.io_errors.load(Relaxed),
        }
    }

    fn send(&self, datagram: &[u8], to: SocketAddrV4) {
        if self.socket.send_to(datagram, to).is_err() {
            self.drops.io_errors.fetch_add(1, Relaxed);
        }
    }
}

/// Start the three workers.
pub(crate) fn spawn(shared: &Arc<Shared>) -> std::io::Result<()> {
    let s = shared.clone();
    std::thread::Builder::new()
        .name("wg-tx".into())
        .spawn(move || tap_to_udp(&s))?;
    let s = shared.clone();
    std::thread::Builder::new()
        .name("wg-rx".into())
        .spawn(move || udp_to_tap(&s))?;
    let s = shared.clone();
    std::thread::Builder::new()
        .name("wg-timers".into())
        .spawn(move || timers(&s))?;
    Ok(())
}

/// The outer IPv4 destination of a VXLAN frame read from the TAP device.
fn outer_destination(frame: &[u8]) -> Option<Ipv4Addr> {
    let ip = frame.get(ETH_LEN..)?;
    if frame.get(12..14)? != [0x08, 0x00] || ip.len() < 20 || ip[0] >> 4 != 4 {
        return None;
    }
    Some(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]))
}

/// TAP → encrypt → UDP: drain every frame the TAP holds, cut super-frames
/// into packets, encrypt each straight into the send batch, which leaves
/// in `UDP_SEGMENT` sends of equal datagrams.
fn tap_to_udp(shared: &Shared) {
    let mut frame = vec![0u8; BUF_LEN];
    let mut segment = vec![0u8; SEGMENT_LEN];
    let mut batch = GsoBatch::new();
    let fd = shared.socket.as_raw_fd();
    loop {
        shared.tap.wait_readable();
        loop {
            match shared.tap.read(&mut frame) {
                Ok(len) => encrypt_frame(shared, &mut frame[..len], &mut segment, &mut batch),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    shared.drops.io_errors.fetch_add(1, Relaxed);
                    break;
                }
            }
        }
        let refused = batch.flush(fd);
        shared.drops.io_errors.fetch_add(refused as u64, Relaxed);
    }
}

/// Encrypt every packet of one read from the TAP (virtio-net header,
/// then a frame or super-frame) for its peer into `batch`.
fn encrypt_frame(shared: &Shared, read: &mut [u8], segment: &mut [u8], batch: &mut GsoBatch) {
    let (Ok(hdr), Some(frame)) = (VnetHdr::parse(read), read.get_mut(VNET_HDR_LEN..)) else {
        shared.drops.malformed.fetch_add(1, Relaxed);
        return;
    };
    let Some(node) = outer_destination(frame) else {
        shared.drops.malformed.fetch_add(1, Relaxed);
        return;
    };
    let Some(peer) = shared.peers.get(node) else {
        shared.drops.no_peer_key.fetch_add(1, Relaxed);
        return;
    };
    let cut = gso::for_each_packet(&hdr, frame, segment, |packet| {
        encrypt(shared, &peer, packet, batch);
    });
    if cut.is_err() {
        shared.drops.malformed.fetch_add(1, Relaxed);
    }
}

/// Encrypt one packet (an Ethernet frame) for `peer` into `batch`.
fn encrypt(shared: &Shared, peer: &Peer, frame: &[u8], batch: &mut GsoBatch) {
    let fd = shared.socket.as_raw_fd();
    let mut refused = batch.prepare(fd, peer.spec.endpoint);
    let result = peer.sessions().encapsulate(&frame[ETH_LEN..], batch.tail());
    match result {
        TunnResult::WriteToNetwork(datagram) => {
            let len = datagram.len();
            refused += batch.commit(fd, len);
        }
        // Queued behind a handshake, or nothing to send.
        TunnResult::Done => {}
        TunnResult::Err(_) => {
            shared.drops.io_errors.fetch_add(1, Relaxed);
        }
        TunnResult::WriteToTunnelV4(..) | TunnResult::WriteToTunnelV6(..) => {}
    }
    shared.drops.io_errors.fetch_add(refused as u64, Relaxed);
}

/// UDP → decrypt → TAP: up to a batch of (GRO-coalesced) datagrams per
/// `recvmmsg`; the decrypted segments of one TCP stream go into the TAP
/// joined into super-frames (`gro.rs`), what is held written at the end
/// of each batch.
fn udp_to_tap(shared: &Shared) {
    let mut batch = Batch::new();
    let mut out = vec![0u8; BUF_LEN + 64];
    let mut segment = vec![0u8; SEGMENT_LEN];
    let mut gro = Coalescer::new(shared.tap.offloads);
    let refused = Cell::new(false);
    let mut write = |frame: &mut [u8]| write_to_tap(shared, frame, &mut segment, &refused);
    let fd = shared.socket.as_raw_fd();
    loop {
        let Ok(n) = batch.recv(fd) else {
            shared.drops.io_errors.fetch_add(1, Relaxed);
            continue;
        };
        for i in 0..n {
            let (coalesced, from) = batch.datagram(i);
            let Some(peer) = shared.peers.get(*from.ip()) else {
                shared.drops.unknown_sender.fetch_add(1, Relaxed);
                continue;
            };
            for datagram in coalesced.chunks(batch.segment_size(i).max(1)) {
                let Some(len) = receive(shared, &peer, datagram, &mut out) else {
                    continue;
                };
                if !gro.push(&out[..len], &mut write) {
                    shared.drops.malformed.fetch_add(1, Relaxed);
                }
            }
        }
        gro.flush(&mut write);
        if refused.take() {
            gro.disable();
        }
    }
}

/// Write one frame (virtio-net header first) into the TAP device. A
/// super-frame the kernel refuses (one that does not take UDP-tunnel GSO
/// on write) goes in cut into its segments, and `refused` asks the caller
/// to stop joining them.
fn write_to_tap(shared: &Shared, frame: &mut [u8], segment: &mut [u8], refused: &Cell<bool>) {
    let gso = frame.get(1).is_some_and(|&t| t != 0);
    match shared.tap.write(frame) {
        Ok(()) => {
            shared.super_frames.fetch_add(u64::from(gso), Relaxed);
        }
        Err(err) if gso && err.raw_os_error() == Some(libc::EINVAL) => {
            refused.set(true);
            let (Ok(hdr), Some(body)) = (VnetHdr::parse(frame), frame.get_mut(VNET_HDR_LEN..))
            else {
                return;
            };
            let cut = gso::for_each_packet(&hdr, body, segment, |packet| {
                if shared.tap.write_plain(packet).is_err() {
                    shared.drops.io_errors.fetch_add(1, Relaxed);
                }
            });
            if cut.is_err() {
                shared.drops.malformed.fetch_add(1, Relaxed);
            }
        }
        Err(_) => {
            shared.drops.io_errors.fetch_add(1, Relaxed);
        }
    }
}

/// Decrypt one datagram from `peer` into `out`; the length of the packet
/// it carried, if any and if it came from the peer's own address. Whatever
/// the session queued (handshake replies, packets held back until the
/// handshake completed) is sent at once.
fn receive(shared: &Shared, peer: &Peer, datagram: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut sessions = peer.sessions();
    let tunn = sessions.session_for(datagram);
    let src = Some(IpAddr::V4(peer.spec.node));
    match tunn.decapsulate(src, datagram, out) {
        TunnResult::WriteToTunnelV4(packet, inner_src) => {
            if inner_src != peer.spec.node {
                shared.drops.wrong_source.fetch_add(1, Relaxed);
                return None;
            }
            Some(packet.len())
        }
        TunnResult::WriteToNetwork(reply) => {
            shared.send(reply, peer.spec.endpoint);
            // Flush what waited for the handshake.
            while let TunnResult::WriteToNetwork(queued) = tunn.decapsulate(None, &[], out) {
                shared.send(queued, peer.spec.endpoint);
            }
            None
        }
        TunnResult::Done => None,
        TunnResult::Err(_) | TunnResult::WriteToTunnelV6(..) => {
            shared.drops.decrypt_failed.fetch_add(1, Relaxed);
            None
        }
    }
}

fn timers(shared: &Shared) {
    let mut out = vec![0u8; 256];
    loop {
        std::thread::sleep(TIMER_TICK);
        for peer in shared.peers.all() {
            let result = peer.sessions().update_timers(Instant::now(), &mut out);
            match result {
                TunnResult::WriteToNetwork(datagram) => shared.send(datagram, peer.spec.endpoint),
                // An expired session is re-established by the next packet.
                TunnResult::Err(WireGuardError::ConnectionExpired) | TunnResult::Done => {}
                TunnResult::Err(_) => {}
                TunnResult::WriteToTunnelV4(..) | TunnResult::WriteToTunnelV6(..) => {}
            }
        }
    }
}
