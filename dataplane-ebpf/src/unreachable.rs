//! Refusing a UDP datagram to a service with no backend the way a host with
//! no listener would: ICMP port unreachable back to the sender, quoting its
//! IPv4 header and the first 8 bytes (RFC 792), so its socket gets
//! ECONNREFUSED instead of waiting.

use aya_ebpf::{
    bindings::bpf_adj_room_mode::BPF_ADJ_ROOM_MAC, helpers::bpf_redirect, programs::TcContext,
};
use shoal_common::{DropReason, Stat};

use crate::{
    parse::Ipv4Packet,
    proto::IPPROTO_ICMP,
    stats::count,
    verdict::{Action, redirected},
};

const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_PORT_UNREACH: u8 = 3;
/// The quoted part: the IPv4 header (no options) and 8 bytes of payload.
const QUOTE_LEN: usize = 28;
/// New IPv4 header and ICMP header put in front of the quote.
const ADDED: usize = 20 + 8;

/// Turn `ip` (a UDP datagram without IPv4 options) into an ICMP port
/// unreachable from its destination to its source, sent out of `out_ifindex`.
#[inline(always)]
pub fn port_unreachable(
    ctx: &TcContext,
    ip: &Ipv4Packet,
    out_ifindex: u32,
) -> Result<Action, DropReason> {
    let fail = |_| DropReason::RejectFailed;
    let macs: [u8; 12] = ctx.load(0).map_err(fail)?;
    let quote: [u8; QUOTE_LEN] = ctx.load(ip.l3_off).map_err(fail)?;
    // SAFETY: plain helper call on our own skb.
    if unsafe {
        aya_ebpf::helpers::bpf_skb_change_tail(ctx.skb.skb, (ip.l3_off + QUOTE_LEN) as u32, 0)
    } != 0
    {
        return Err(DropReason::RejectFailed);
    }
    ctx.adjust_room(ADDED as i32, BPF_ADJ_ROOM_MAC, 0)
        .map_err(fail)?;
    let mut swapped = [0u8; 12];
    swapped[..6].copy_from_slice(&macs[6..12]);
    swapped[6..].copy_from_slice(&macs[..6]);
    ctx.store(0, &swapped, 0).map_err(fail)?;
    ctx.store(ip.l3_off, &ip_header(ip), 0).map_err(fail)?;
    ctx.store(ip.l3_off + 20, &icmp_header(&quote), 0)
        .map_err(fail)?;
    // SAFETY: plain helper call; the Redirect verdict hands the packet to it.
    redirected(
        unsafe { bpf_redirect(out_ifindex, 0) },
        DropReason::RejectFailed,
    )?;
    count(Stat::Unreachable, ctx.len());
    Ok(Action::Redirect)
}

#[inline(always)]
fn ip_header(ip: &Ipv4Packet) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&((ADDED + QUOTE_LEN) as u16).to_be_bytes());
    h[8] = 64;
    h[9] = IPPROTO_ICMP;
    h[12..16].copy_from_slice(&ip.dst);
    h[16..20].copy_from_slice(&ip.src);
    let check = crate::csum::ipv4_header(&h);
    h[10..12].copy_from_slice(&check);
    h
}

/// The ICMP header, its checksum covering the quote.
#[inline(always)]
fn icmp_header(quote: &[u8; QUOTE_LEN]) -> [u8; 8] {
    let sum = u32::from(u16::from_be_bytes([ICMP_DEST_UNREACH, ICMP_PORT_UNREACH]));
    let check = crate::csum::finish(crate::csum::add_words(sum, quote));
    [
        ICMP_DEST_UNREACH,
        ICMP_PORT_UNREACH,
        check[0],
        check[1],
        0,
        0,
        0,
        0,
    ]
}
