//! Receive-side coalescing, the mirror of `gso.rs`: consecutive decrypted
//! segments of one inner TCP flow (each a whole IPv4/UDP/VXLAN/Ethernet/
//! IPv4/TCP packet) are joined into one VXLAN super-frame, written into
//! the TAP device in one `write` behind a virtio-net header that asks for
//! UDP-tunnel GSO (`VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4 | TCPV4`, Linux
//! 6.17+). The kernel then runs the TAP's TC program, the veth hop and the
//! task's TCP receive once per super-frame instead of once per segment.
//!
//! Segments join as Linux's TCP GRO would join them: same headers but for
//! lengths, IP ids, checksums, sequence number and window; contiguous
//! sequence numbers; every segment the size of the first but the last,
//! which may be shorter; only ACK (a PUSH ends the run). Anything else is
//! written on its own, unchanged.

use super::{
    csum,
    gso::{F_NEEDS_CSUM, GSO_TCPV4, GSO_UDP_TUNNEL_IPV4, VNET_HDR_LEN},
};

const ETH_LEN: usize = 14;
/// Outer IPv4 (no options), UDP, VXLAN and inner Ethernet headers.
const OUTER_UDP: usize = 20;
const INNER_IP: usize = OUTER_UDP + 8 + 8 + ETH_LEN;
/// The inner TCP header (the inner IPv4 header has no options either).
const TCP: usize = INNER_IP + 20;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;
/// Where a frame starts in the buffer: after the virtio-net header and
/// the Ethernet header (whose destination the TAP's program ignores).
const BASE: usize = VNET_HDR_LEN + ETH_LEN;
/// Largest super-frame: the outer IPv4 length field's limit.
const MAX_IP_LEN: usize = 65_535;
/// Most segments in one super-frame (as the kernel's GRO).
const MAX_SEGMENTS: usize = 64;

/// Header bytes a joining segment may differ in (offsets into the IPv4
/// packet, end exclusive): lengths, ids, checksums, sequence number,
/// flags (checked on their own) and window.
const MAY_DIFFER: [(usize, usize); 7] = [
    (2, 6),
    (10, 12),
    (OUTER_UDP + 4, OUTER_UDP + 8),
    (INNER_IP + 2, INNER_IP + 6),
    (INNER_IP + 10, INNER_IP + 12),
    (TCP + 4, TCP + 8),
    (TCP + 13, TCP + 18),
];

/// Segments being joined into one super-frame, in a buffer allocated once.
pub(crate) struct Coalescer {
    buf: Vec<u8>,
    /// Bytes of `buf` in use (virtio-net and Ethernet headers included).
    len: usize,
    segments: usize,
    /// End of the held packet's TCP header (offset into the IPv4 packet).
    headers: usize,
    /// Payload bytes of the first segment: the super-frame's `gso_size`.
    gso_size: usize,
    next_seq: u32,
    /// A short or PUSH segment ended the run: nothing more may join.
    closed: bool,
    /// Whether to join at all (the TAP took UDP-tunnel GSO).
    enabled: bool,
}

impl Coalescer {
    /// An empty coalescer; with `enabled` false every packet is written on
    /// its own.
    pub(crate) fn new(enabled: bool) -> Coalescer {
        let mut buf = vec![0; BASE + MAX_IP_LEN];
        // A locally administered source; the destination stays zero.
        buf[VNET_HDR_LEN] = 0x02;
        buf[VNET_HDR_LEN + 12..BASE].copy_from_slice(&[0x08, 0x00]);
        Coalescer {
            buf,
            len: 0,
            segments: 0,
            headers: 0,
            gso_size: 0,
            next_seq: 0,
            closed: false,
            enabled,
        }
    }

    /// Take one decrypted IPv4 packet: join it to the held super-frame, or
    /// write what is held with `write` and hold this one instead (a packet
    /// that cannot start a run is written at once). False for a packet
    /// longer than IPv4 allows (never from boringtun), which is not taken.
    pub(crate) fn push(&mut self, packet: &[u8], write: &mut impl FnMut(&mut [u8])) -> bool {
        if packet.len() > MAX_IP_LEN {
            return false;
        }
        if self.segments > 0 && self.join(packet) {
            return true;
        }
        self.flush(write);
        self.buf[BASE..BASE + packet.len()].copy_from_slice(packet);
        self.len = BASE + packet.len();
        self.segments = 1;
        self.closed = true;
        if let Some((headers, seq, flags)) = self.enabled.then(|| tcp_segment(packet)).flatten() {
            self.headers = headers;
            self.gso_size = packet.len() - headers;
            self.next_seq = seq.wrapping_add(self.gso_size as u32);
            self.closed = flags & TCP_PSH != 0;
        } else {
            self.flush(write);
        }
        true
    }

    /// Write what is held (one packet as it came, or a super-frame).
    pub(crate) fn flush(&mut self, write: &mut impl FnMut(&mut [u8])) {
        if self.segments == 0 {
            return;
        }
        if self.segments > 1 {
            self.finish_super_frame();
        } else {
            self.buf[..VNET_HDR_LEN].fill(0);
        }
        write(&mut self.buf[..self.len]);
        self.segments = 0;
        self.len = 0;
    }

    /// Stop joining segments (the TAP refused a super-frame); what is held
    /// must have been flushed.
    pub(crate) fn disable(&mut self) {
        self.enabled = false;
    }

    /// Append `packet`'s payload if it continues the held run.
    fn join(&mut self, packet: &[u8]) -> bool {
        if self.closed || self.segments == MAX_SEGMENTS {
            return false;
        }
        let Some((headers, seq, flags)) = tcp_segment(packet) else {
            return false;
        };
        let payload = packet.len() - headers;
        let fits = self.len - BASE + payload <= MAX_IP_LEN;
        if headers != self.headers || seq != self.next_seq || payload > self.gso_size || !fits {
            return false;
        }
        let held = &self.buf[BASE..BASE + headers];
        if !same_headers(held, &packet[..headers]) {
            return false;
        }
        self.buf[self.len..self.len + payload].copy_from_slice(&packet[headers..]);
        self.len += payload;
        self.segments += 1;
        self.next_seq = seq.wrapping_add(payload as u32);
        // The latest window and PUSH, as GRO keeps them.
        self.buf[BASE + TCP + 13] |= flags & TCP_PSH;
        self.buf[BASE + TCP + 14..BASE + TCP + 16].copy_from_slice(&packet[TCP + 14..TCP + 16]);
        self.closed = payload < self.gso_size || flags & TCP_PSH != 0;
        true
    }

    /// Lengths and checksums of the joined frame, and its virtio-net
    /// header: UDP-tunnel GSO, the inner TCP checksum left partial.
    fn finish_super_frame(&mut self) {
        let ip_len = self.len - BASE;
        let frame = &mut self.buf[BASE..self.len];
        set16(frame, 2, ip_len);
        csum::fix_ipv4_header(frame);
        set16(frame, OUTER_UDP + 4, ip_len - OUTER_UDP);
        // No outer UDP checksum, as shoal's encapsulation sends it.
        frame[OUTER_UDP + 6..OUTER_UDP + 8].fill(0);
        set16(frame, INNER_IP + 2, ip_len - INNER_IP);
        csum::fix_ipv4_header(&mut frame[INNER_IP..]);
        // NEEDS_CSUM: the field holds the pseudo-header sum, not inverted.
        let pseudo = !csum::finish(csum::pseudo_header(&frame[INNER_IP..], 6, ip_len - TCP));
        frame[TCP + 16..TCP + 18].copy_from_slice(&pseudo.to_be_bytes());
        let hdr = &mut self.buf[..VNET_HDR_LEN];
        hdr.fill(0);
        hdr[0] = F_NEEDS_CSUM;
        hdr[1] = GSO_UDP_TUNNEL_IPV4 | GSO_TCPV4;
        let le = |hdr: &mut [u8], at: usize, v: usize| {
            hdr[at..at + 2].copy_from_slice(&(v as u16).to_le_bytes());
        };
        le(hdr, 2, ETH_LEN + self.headers); // hdr_len
        le(hdr, 4, self.gso_size);
        le(hdr, 6, ETH_LEN + TCP); // csum_start
        le(hdr, 8, 16); // csum_offset
        le(hdr, 20, ETH_LEN + OUTER_UDP); // outer_th_offset
        le(hdr, 22, ETH_LEN + INNER_IP); // inner_nh_offset
    }
}

/// If `packet` is a TCP segment with payload in VXLAN over IPv4 that may
/// start or join a run (no IP options or fragments, only ACK or ACK|PSH,
/// lengths consistent): the end of its headers, its sequence number and
/// flags.
fn tcp_segment(p: &[u8]) -> Option<(usize, u32, u8)> {
    if p.len() <= TCP + 20 || p[0] != 0x45 || p[9] != 17 || usize::from(be16(p, 2)) != p.len() {
        return None;
    }
    let unfragmented = |ip: usize| be16(p, ip + 6) & 0x3fff == 0;
    let inner_ipv4 = p[INNER_IP - 2..INNER_IP] == [0x08, 0x00] && p[INNER_IP] == 0x45;
    if !inner_ipv4 || p[INNER_IP + 9] != 6 || !unfragmented(0) || !unfragmented(INNER_IP) {
        return None;
    }
    if usize::from(be16(p, INNER_IP + 2)) != p.len() - INNER_IP {
        return None;
    }
    let headers = TCP + usize::from(p[TCP + 12] >> 4) * 4;
    let flags = p[TCP + 13];
    if headers < TCP + 20 || headers >= p.len() || flags & !TCP_PSH != TCP_ACK {
        return None;
    }
    let seq = u32::from_be_bytes([p[TCP + 4], p[TCP + 5], p[TCP + 6], p[TCP + 7]]);
    Some((headers, seq, flags))
}

/// Whether two packets' headers (of equal length) agree everywhere but
/// where segments of one run may differ.
fn same_headers(a: &[u8], b: &[u8]) -> bool {
    let mut from = 0;
    for (start, end) in MAY_DIFFER {
        if a[from..start] != b[from..start] {
            return false;
        }
        from = end;
    }
    a[from..] == b[from..]
}

fn be16(p: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([p[at], p[at + 1]])
}

fn set16(buf: &mut [u8], at: usize, value: usize) {
    buf[at..at + 2].copy_from_slice(&(value as u16).to_be_bytes());
}

#[cfg(test)]
#[path = "gro_tests.rs"]
mod tests;
