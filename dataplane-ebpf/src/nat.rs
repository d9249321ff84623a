//! Rewriting addresses and ports with incremental checksum updates (the
//! kernel helpers keep CHECKSUM_PARTIAL packets from tasks correct).

use aya_ebpf::{
    bindings::{BPF_F_MARK_MANGLED_0, BPF_F_PSEUDO_HDR},
    programs::TcContext,
};
use shoal_common::DropReason;

use crate::parse::{Ipv4Packet, L4};

const IP_CSUM_OFF: usize = 10;
const IP_SRC_OFF: usize = 12;
const IP_DST_OFF: usize = 16;
const TCP_CSUM_OFF: usize = 16;
const UDP_CSUM_OFF: usize = 6;
const SPORT_OFF: usize = 0;
const DPORT_OFF: usize = 2;

/// Which end of the flow to rewrite.
#[derive(Clone, Copy)]
pub enum End {
    /// Source address and port.
    Source,
    /// Destination address and port.
    Destination,
}

/// Rewrite one end of `ip`'s flow to `addr`:`port` (both network order),
/// fixing the IPv4 header checksum and the TCP/UDP checksum.
#[inline(always)]
pub fn rewrite(
    ctx: &TcContext,
    ip: &Ipv4Packet,
    end: End,
    addr: [u8; 4],
    port: [u8; 2],
) -> Result<(), DropReason> {
    let fail = |_| DropReason::NatFailed;
    let (old_addr, old_port, addr_off, port_off) = match (end, ip.l4) {
        (End::Source, L4::Tcp { sport, .. } | L4::Udp { sport, .. }) => {
            (ip.src, sport.to_be_bytes(), IP_SRC_OFF, SPORT_OFF)
        }
        (End::Destination, L4::Tcp { dport, .. } | L4::Udp { dport, .. }) => {
            (ip.dst, dport.to_be_bytes(), IP_DST_OFF, DPORT_OFF)
        }
        _ => return Err(DropReason::NatFailed),
    };
    let (l4_csum_off, mangled) = match ip.l4 {
        L4::Tcp { .. } => (ip.l4_off + TCP_CSUM_OFF, 0),
        // A UDP checksum of 0 means "none": keep it 0.
        _ => (ip.l4_off + UDP_CSUM_OFF, u64::from(BPF_F_MARK_MANGLED_0)),
    };
    let (old_a, new_a) = (
        u64::from(u32::from_ne_bytes(old_addr)),
        u64::from(u32::from_ne_bytes(addr)),
    );
    let (old_p, new_p) = (
        u64::from(u16::from_ne_bytes(old_port)),
        u64::from(u16::from_ne_bytes(port)),
    );
    ctx.l4_csum_replace(
        l4_csum_off,
        old_a,
        new_a,
        u64::from(BPF_F_PSEUDO_HDR) | mangled | 4,
    )
    .map_err(fail)?;
    ctx.l4_csum_replace(l4_csum_off, old_p, new_p, mangled | 2)
        .map_err(fail)?;
    ctx.l3_csum_replace(ip.l3_off + IP_CSUM_OFF, old_a, new_a, 4)
        .map_err(fail)?;
    ctx.store(ip.l3_off + addr_off, &addr, 0).map_err(fail)?;
    ctx.store(ip.l4_off + port_off, &port, 0).map_err(fail)?;
    Ok(())
}

/// Offset of the identifier in an ICMP echo header.
const ICMP_ID_OFF: usize = 4;
/// Offset of the checksum in an ICMP header.
const ICMP_CSUM_OFF: usize = 2;

/// Rewrite one end of an ICMP echo (request or reply) to `addr` and its
/// identifier to `id` (both network order). The ICMP checksum covers no
/// pseudo-header: only the identifier changes it.
#[inline(always)]
pub fn rewrite_echo(
    ctx: &TcContext,
    ip: &Ipv4Packet,
    end: End,
    addr: [u8; 4],
    id: [u8; 2],
) -> Result<(), DropReason> {
    let fail = |_| DropReason::NatFailed;
    let (old_addr, addr_off) = match end {
        End::Source => (ip.src, IP_SRC_OFF),
        End::Destination => (ip.dst, IP_DST_OFF),
    };
    let old_id: [u8; 2] = ctx.load(ip.l4_off + ICMP_ID_OFF).map_err(fail)?;
    ctx.l4_csum_replace(
        ip.l4_off + ICMP_CSUM_OFF,
        u64::from(u16::from_ne_bytes(old_id)),
        u64::from(u16::from_ne_bytes(id)),
        2,
    )
    .map_err(fail)?;
    ctx.l3_csum_replace(
        ip.l3_off + IP_CSUM_OFF,
        u64::from(u32::from_ne_bytes(old_addr)),
        u64::from(u32::from_ne_bytes(addr)),
        4,
    )
    .map_err(fail)?;
    ctx.store(ip.l3_off + addr_off, &addr, 0).map_err(fail)?;
    ctx.store(ip.l4_off + ICMP_ID_OFF, &id, 0).map_err(fail)?;
    Ok(())
}
