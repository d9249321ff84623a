//! Header parsing shared by every hook: Ethernet → IPv4 (honouring IHL and
//! fragments) → TCP/UDP/ICMP. Malformed headers are errors with a reason;
//! anything merely unusual (options, fragments, other protocols) is reported
//! in the result so callers decide.

use crate::proto::{ETH_P_IPV4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP};
use network_types::{eth::EthHdr, ip::Ipv4Hdr, tcp::TcpHdr, udp::UdpHdr};
use shoal_common::DropReason;

use crate::mem::{Packet, ptr_at};

/// ICMP echo/unreachable headers are 8 bytes.
const ICMP_HDR_LEN: usize = 8;
/// Fragment offset bits of the IPv4 flags/offset field.
const IPV4_FRAG_OFFSET_MASK: u16 = 0x1fff;
/// The "more fragments" flag of the IPv4 flags/offset field.
const IPV4_MORE_FRAGMENTS: u16 = 0x2000;

/// The L4 header we found, if any.
#[derive(Clone, Copy)]
#[expect(
    dead_code,
    reason = "ports and protocol are read by the overlay and LB paths to come"
)]
pub enum L4 {
    /// TCP with ports in host byte order.
    Tcp { sport: u16, dport: u16 },
    /// UDP with ports in host byte order.
    Udp { sport: u16, dport: u16 },
    /// ICMP: 8 header bytes present.
    Icmp,
    /// A non-first fragment: the L4 header is in another packet.
    Fragment,
    /// A protocol we do not parse.
    Other(u8),
}

/// An IPv4 packet's parsed headers.
#[derive(Clone, Copy)]
pub struct Ipv4Packet {
    /// Offset of the IPv4 header.
    pub l3_off: usize,
    /// Offset of the L4 header (after options).
    pub l4_off: usize,
    /// IPv4 options were present (IHL > 5).
    pub has_options: bool,
    /// Source address, network byte order.
    pub src: [u8; 4],
    /// Destination address, network byte order.
    pub dst: [u8; 4],
    /// The IPv4 protocol field.
    pub proto: u8,
    /// The IPv4 total length (header and payload).
    pub tot_len: u16,
    /// Part of a fragmented datagram (MF set or a non-zero offset): flow
    /// hashing ignores its ports, since the later fragments carry none.
    pub fragment: bool,
    /// What follows the IPv4 header.
    pub l4: L4,
}

/// What a frame holds at L3.
#[derive(Clone, Copy)]
pub enum Frame {
    /// ARP, IPv6, VLAN and other ethertypes: not parsed further.
    NotIpv4,
    /// A well-formed IPv4 packet.
    Ipv4(Ipv4Packet),
}

/// Parse a frame from its Ethernet header on.
#[inline(always)]
pub fn parse_frame<P: Packet>(ctx: &P) -> Result<Frame, DropReason> {
    let eth: *const EthHdr = ptr_at(ctx, 0, DropReason::TruncatedEthernet)?;
    // SAFETY: ptr_at checked the Ethernet header lies inside the packet.
    let ether_type = u16::from_be(unsafe { (*eth).ether_type });
    if ether_type != ETH_P_IPV4 {
        return Ok(Frame::NotIpv4);
    }
    parse_ipv4(ctx, EthHdr::LEN).map(Frame::Ipv4)
}

/// Parse and validate an IPv4 header at `l3_off` and the L4 header after it.
#[inline(always)]
pub fn parse_ipv4<P: Packet>(ctx: &P, l3_off: usize) -> Result<Ipv4Packet, DropReason> {
    let ip: *const Ipv4Hdr = ptr_at(ctx, l3_off, DropReason::TruncatedIpv4)?;
    // SAFETY: ptr_at checked the fixed 20-byte header lies inside the packet.
    let ip = unsafe { *ip };
    let ihl_bytes = ((ip.vihl & 0x0f) as usize) * 4;
    if ip.vihl >> 4 != 4 || ihl_bytes < Ipv4Hdr::LEN {
        return Err(DropReason::MalformedIpv4);
    }
    let tot_len = u16::from_be_bytes(ip.tot_len) as usize;
    if tot_len < ihl_bytes {
        return Err(DropReason::MalformedIpv4);
    }
    // The frame may carry Ethernet padding after the IP packet, never less.
    let frame_len = ctx.len() as usize;
    if l3_off + tot_len > frame_len {
        return Err(DropReason::TruncatedIpv4);
    }
    let l4_off = l3_off + ihl_bytes;
    let frags = u16::from_be_bytes(ip.frags);
    let fragment = frags & (IPV4_FRAG_OFFSET_MASK | IPV4_MORE_FRAGMENTS) != 0;
    let l4 = if frags & IPV4_FRAG_OFFSET_MASK != 0 {
        L4::Fragment
    } else {
        // A first fragment (MF set) holds the L4 header but only part of the
        // datagram the header's length speaks of.
        let first_fragment = frags & IPV4_MORE_FRAGMENTS != 0;
        parse_l4(ctx, ip.proto, l4_off, l3_off + tot_len, first_fragment)?
    };
    Ok(Ipv4Packet {
        l3_off,
        l4_off,
        has_options: ihl_bytes > Ipv4Hdr::LEN,
        src: ip.src_addr,
        dst: ip.dst_addr,
        proto: ip.proto,
        tot_len: tot_len as u16,
        fragment,
        l4,
    })
}

/// Parse the L4 header at `l4_off`; `ip_end` is where the IP payload ends,
/// and with `first_fragment` the datagram goes on in later fragments.
#[inline(always)]
fn parse_l4<P: Packet>(
    ctx: &P,
    proto: u8,
    l4_off: usize,
    ip_end: usize,
    first_fragment: bool,
) -> Result<L4, DropReason> {
    match proto {
        IPPROTO_TCP => parse_tcp(ctx, l4_off, ip_end),
        IPPROTO_UDP => parse_udp(ctx, l4_off, ip_end, first_fragment),
        IPPROTO_ICMP => {
            if l4_off + ICMP_HDR_LEN > ip_end {
                return Err(DropReason::TruncatedL4);
            }
            let _: *const [u8; ICMP_HDR_LEN] = ptr_at(ctx, l4_off, DropReason::TruncatedL4)?;
            Ok(L4::Icmp)
        }
        other => Ok(L4::Other(other)),
    }
}

#[inline(always)]
fn parse_tcp<P: Packet>(ctx: &P, l4_off: usize, ip_end: usize) -> Result<L4, DropReason> {
    if l4_off + TcpHdr::LEN > ip_end {
        return Err(DropReason::TruncatedL4);
    }
    let tcp: *const TcpHdr = ptr_at(ctx, l4_off, DropReason::TruncatedL4)?;
    // SAFETY: ptr_at checked the 20-byte TCP header lies inside the packet.
    let tcp = unsafe { &*tcp };
    let doff_bytes = (tcp.doff() as usize) * 4;
    if doff_bytes < TcpHdr::LEN || l4_off + doff_bytes > ip_end {
        return Err(DropReason::MalformedL4);
    }
    Ok(L4::Tcp {
        sport: u16::from_be_bytes(tcp.source),
        dport: u16::from_be_bytes(tcp.dest),
    })
}

/// The UDP header at `l4_off`. Its length covers the whole datagram: at most
/// what this packet carries, or, in a first fragment, at least that much.
#[inline(always)]
fn parse_udp<P: Packet>(
    ctx: &P,
    l4_off: usize,
    ip_end: usize,
    first_fragment: bool,
) -> Result<L4, DropReason> {
    if l4_off + UdpHdr::LEN > ip_end {
        return Err(DropReason::TruncatedL4);
    }
    let udp: *const UdpHdr = ptr_at(ctx, l4_off, DropReason::TruncatedL4)?;
    // SAFETY: ptr_at checked the 8-byte UDP header lies inside the packet.
    let udp = unsafe { &*udp };
    let udp_len = u16::from_be_bytes(udp.len) as usize;
    let datagram_end = l4_off + udp_len;
    let fits = if first_fragment {
        datagram_end > ip_end
    } else {
        datagram_end <= ip_end
    };
    if udp_len < UdpHdr::LEN || !fits {
        return Err(DropReason::MalformedL4);
    }
    Ok(L4::Udp {
        sport: udp.src_port(),
        dport: udp.dst_port(),
    })
}
