//! Frames read from the TAP device with a virtio-net header
//! (`IFF_VNET_HDR`): the kernel hands over VXLAN super-frames (a TCP
//! stream's TSO segments still in one piece, `VIRTIO_NET_HDR_GSO_UDP_TUNNEL
//! | TCPV4`, kernel 6.17+) and frames whose checksum it left to us
//! (`NEEDS_CSUM`). WireGuard encrypts whole packets, so before encryption
//! each super-frame is cut into the segments the kernel would have sent:
//! outer IPv4 length/id/checksum and UDP length; inner IPv4 length/id/
//! checksum and TCP sequence number, flags and a complete checksum.

use super::csum;

/// Bytes of the virtio-net header in front of every frame on the TAP
/// device (`struct virtio_net_hdr_v1_hash_tunnel`, the size tun wants
/// before it hands out UDP-tunnel GSO frames).
pub(crate) const VNET_HDR_LEN: usize = 24;

/// `flags`: the checksum at `csum_start + csum_offset` is still partial.
pub(super) const F_NEEDS_CSUM: u8 = 1;
/// `gso_type` values (`linux/virtio_net.h`).
const GSO_NONE: u8 = 0;
pub(super) const GSO_TCPV4: u8 = 1;
pub(super) const GSO_UDP_TUNNEL_IPV4: u8 = 0x20;
const GSO_ECN: u8 = 0x80;

const ETH_LEN: usize = 14;
const UDP_LEN: usize = 8;
const VXLAN_LEN: usize = 8;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// Why a frame from the TAP device could not be turned into packets
/// (each counted as `malformed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GsoError {
    /// Shorter than its virtio-net header or its own headers say.
    #[error("truncated frame")]
    Truncated,
    /// A GSO type other than TCP in IPv4 VXLAN (nothing else is sent to
    /// the device), or headers that are not IPv4/UDP/VXLAN/Ethernet/IPv4/TCP.
    #[error("unsupported GSO frame (type {0:#x})")]
    Unsupported(u8),
    /// A partial checksum whose position lies outside the frame.
    #[error("checksum offset outside the frame")]
    BadChecksumOffset,
}

/// The virtio-net header fields the send worker uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VnetHdr {
    flags: u8,
    gso_type: u8,
    gso_size: u16,
    csum_start: u16,
    csum_offset: u16,
}

impl VnetHdr {
    /// The header at the start of `buf` (little-endian, as tun writes it
    /// on every architecture shoal runs on).
    pub(crate) fn parse(buf: &[u8]) -> Result<VnetHdr, GsoError> {
        let h = buf.get(..VNET_HDR_LEN).ok_or(GsoError::Truncated)?;
        let le = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        Ok(VnetHdr {
            flags: h[0],
            gso_type: h[1],
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        })
    }
}

/// Call `each` with every packet `frame` (an Ethernet frame read from the
/// TAP after header `hdr`) stands for: the frame itself (its partial
/// checksum completed) or, for a super-frame, each segment built in
/// `scratch` (at least as large as the largest segment).
pub(crate) fn for_each_packet(
    hdr: &VnetHdr,
    frame: &mut [u8],
    scratch: &mut [u8],
    mut each: impl FnMut(&[u8]),
) -> Result<(), GsoError> {
    match hdr.gso_type & !GSO_ECN {
        GSO_NONE => {
            if hdr.flags & F_NEEDS_CSUM != 0 {
                complete_checksum(frame, hdr.csum_start, hdr.csum_offset)?;
            }
            each(frame);
            Ok(())
        }
        t if t == GSO_UDP_TUNNEL_IPV4 | GSO_TCPV4 => segment(hdr, frame, scratch, each),
        t => Err(GsoError::Unsupported(t)),
    }
}

/// Finish a partial checksum: the field holds the pseudo-header sum; the
/// checksum covers everything from `start` to the end of the frame.
fn complete_checksum(frame: &mut [u8], start: u16, offset: u16) -> Result<(), GsoError> {
    let (start, field) = (usize::from(start), usize::from(start) + usize::from(offset));
    if field + 2 > frame.len() {
        return Err(GsoError::BadChecksumOffset);
    }
    let sum = csum::finish(csum::add(0, &frame[start..]));
    frame[field..field + 2].copy_from_slice(&sum.to_be_bytes());
    Ok(())
}

/// Where the headers of a VXLAN-encapsulated TCP/IPv4 frame start.
#[derive(Debug, Clone, Copy)]
struct Layout {
    outer_ip: usize,
    outer_udp: usize,
    inner_ip: usize,
    tcp: usize,
    /// End of the TCP header: where the payload starts.
    payload: usize,
}

fn layout(frame: &[u8]) -> Result<Layout, GsoError> {
    let unsupported = GsoError::Unsupported(GSO_UDP_TUNNEL_IPV4 | GSO_TCPV4);
    let byte = |i: usize| frame.get(i).copied().ok_or(GsoError::Truncated);
    let outer_ip = ETH_LEN;
    if byte(12)? != 0x08 || byte(13)? != 0x00 || byte(outer_ip)? >> 4 != 4 {
        return Err(unsupported);
    }
    let outer_udp = outer_ip + usize::from(byte(outer_ip)? & 0x0f) * 4;
    let inner_eth = outer_udp + UDP_LEN + VXLAN_LEN;
    let inner_ip = inner_eth + ETH_LEN;
    if byte(outer_ip + 9)? != 17 || byte(inner_eth + 12)? != 0x08 || byte(inner_eth + 13)? != 0 {
        return Err(unsupported);
    }
    if byte(inner_ip)? >> 4 != 4 || byte(inner_ip + 9)? != 6 {
        return Err(unsupported);
    }
    let tcp = inner_ip + usize::from(byte(inner_ip)? & 0x0f) * 4;
    let payload = tcp + usize::from(byte(tcp + 12)? >> 4) * 4;
    if payload > frame.len() {
        return Err(GsoError::Truncated);
    }
    Ok(Layout {
        outer_ip,
        outer_udp,
        inner_ip,
        tcp,
        payload,
    })
}

/// Cut a VXLAN TCP super-frame into `gso_size`-byte segments.
fn segment(
    hdr: &VnetHdr,
    frame: &[u8],
    scratch: &mut [u8],
    mut each: impl FnMut(&[u8]),
) -> Result<(), GsoError> {
    let l = layout(frame)?;
    let mss = usize::from(hdr.gso_size);
    if mss == 0 || l.payload + mss > scratch.len() {
        return Err(GsoError::Unsupported(hdr.gso_type));
    }
    let be16 = |i: usize| u16::from_be_bytes([frame[i], frame[i + 1]]);
    let (outer_id, inner_id) = (be16(l.outer_ip + 4), be16(l.inner_ip + 4));
    let seq = u32::from_be_bytes([
        frame[l.tcp + 4],
        frame[l.tcp + 5],
        frame[l.tcp + 6],
        frame[l.tcp + 7],
    ]);
    let chunks = frame[l.payload..].chunks(mss);
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.enumerate() {
        let len = l.payload + chunk.len();
        let out = &mut scratch[..len];
        out[..l.payload].copy_from_slice(&frame[..l.payload]);
        out[l.payload..].copy_from_slice(chunk);
        let n = i as u16;
        set16(out, l.outer_ip + 2, len - l.outer_ip);
        out[l.outer_ip + 4..l.outer_ip + 6]
            .copy_from_slice(&outer_id.wrapping_add(n).to_be_bytes());
        csum::fix_ipv4_header(&mut out[l.outer_ip..]);
        set16(out, l.outer_udp + 4, len - l.outer_udp);
        // Zero: no UDP checksum, as RFC 7348 allows over IPv4 (and the
        // datagram is authenticated by WireGuard anyway).
        out[l.outer_udp + 6..l.outer_udp + 8].fill(0);
        set16(out, l.inner_ip + 2, len - l.inner_ip);
        out[l.inner_ip + 4..l.inner_ip + 6]
            .copy_from_slice(&inner_id.wrapping_add(n).to_be_bytes());
        csum::fix_ipv4_header(&mut out[l.inner_ip..]);
        let seq = seq.wrapping_add((i * mss) as u32);
        out[l.tcp + 4..l.tcp + 8].copy_from_slice(&seq.to_be_bytes());
        if i != last {
            out[l.tcp + 13] &= !(TCP_FIN | TCP_PSH);
        }
        if i != 0 {
            out[l.tcp + 13] &= !TCP_CWR;
        }
        fix_tcp_checksum(out, l.inner_ip, l.tcp);
        each(out);
    }
    Ok(())
}

fn set16(buf: &mut [u8], at: usize, value: usize) {
    buf[at..at + 2].copy_from_slice(&(value as u16).to_be_bytes());
}

/// A complete TCP checksum over the segment from `tcp` to the end.
fn fix_tcp_checksum(packet: &mut [u8], ip: usize, tcp: usize) {
    packet[tcp + 16..tcp + 18].fill(0);
    let pseudo = csum::pseudo_header(&packet[ip..], 6, packet.len() - tcp);
    let sum = csum::finish(csum::add(pseudo, &packet[tcp..]));
    packet[tcp + 16..tcp + 18].copy_from_slice(&sum.to_be_bytes());
}

#[cfg(test)]
#[path = "gso_tests.rs"]
mod tests;
