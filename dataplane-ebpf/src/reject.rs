//! Refusing a new flow to a service with no backend: TCP gets a reset back
//! where it came from (the client sees "connection refused" at once instead
//! of a timeout), UDP an ICMP port unreachable; anything else is dropped
//! with `no-backend`.

use crate::proto::{IPPROTO_TCP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};
use aya_ebpf::{helpers::bpf_redirect, programs::TcContext};
use shoal_common::{DropReason, Stat};

use crate::{
    csum,
    parse::{Ipv4Packet, L4},
    stats::count,
    verdict::{Action, redirected},
};

const RESET_IP_LEN: u16 = 40;

/// The fields of the refused segment a reset depends on.
struct Refused {
    seq: u32,
    ack: u32,
    flags: u8,
    payload: u32,
}

/// Answer `ip` (to a service without backends) with a TCP reset or an
/// ICMP port unreachable sent out of `out_ifindex`, or drop it with
/// `no-backend`.
#[inline(always)]
pub fn refuse(ctx: &TcContext, ip: &Ipv4Packet, out_ifindex: u32) -> Result<Action, DropReason> {
    // IPv4 options would have to be carried over; refuse silently instead.
    if ip.has_options {
        return Err(DropReason::NoBackend);
    }
    let (sport, dport) = match ip.l4 {
        L4::Tcp { sport, dport } => (sport, dport),
        L4::Udp { .. } => return crate::unreachable::port_unreachable(ctx, ip, out_ifindex),
        _ => return Err(DropReason::NoBackend),
    };
    let seg = read_segment(ctx, ip)?;
    if seg.flags & TCP_RST != 0 {
        return Err(DropReason::NoBackend);
    }
    // bpf_skb_load_bytes rather than direct access: LLVM folds the bounds
    // checks of these reads into the TCP header's, which the verifier cannot
    // follow ("R1 offset is outside of the packet").
    let macs: [u8; 12] = ctx.load(0).map_err(|_| DropReason::RejectFailed)?;
    // SAFETY: plain helper call on our own skb.
    let rc =
        unsafe { aya_ebpf::helpers::bpf_skb_change_tail(ctx.skb.skb, (ip.l4_off + 20) as u32, 0) };
    if rc != 0 {
        return Err(DropReason::RejectFailed);
    }
    let mut swapped = [0u8; 12];
    swapped[..6].copy_from_slice(&macs[6..12]);
    swapped[6..].copy_from_slice(&macs[..6]);
    let fail = |_| DropReason::RejectFailed;
    ctx.store(0, &swapped, 0).map_err(fail)?;
    ctx.store(ip.l3_off, &reset_ip(ip), 0).map_err(fail)?;
    ctx.store(ip.l4_off, &reset_tcp(ip, dport, sport, &seg), 0)
        .map_err(fail)?;
    // SAFETY: plain helper call; the Redirect verdict hands the packet to it.
    redirected(
        unsafe { bpf_redirect(out_ifindex, 0) },
        DropReason::RejectFailed,
    )?;
    count(Stat::Reset, ctx.len());
    Ok(Action::Redirect)
}

#[inline(always)]
fn read_segment(ctx: &TcContext, ip: &Ipv4Packet) -> Result<Refused, DropReason> {
    let tcp: [u8; 20] = ctx.load(ip.l4_off).map_err(|_| DropReason::RejectFailed)?;
    let doff = u32::from(tcp[12] >> 4) * 4;
    let payload = u32::from(ip.tot_len).saturating_sub(20 + doff);
    Ok(Refused {
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        ack: u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]),
        flags: tcp[13],
        payload,
    })
}

#[inline(always)]
fn reset_ip(ip: &Ipv4Packet) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&RESET_IP_LEN.to_be_bytes());
    h[6] = 0x40;
    h[8] = 64;
    h[9] = IPPROTO_TCP;
    h[12..16].copy_from_slice(&ip.dst);
    h[16..20].copy_from_slice(&ip.src);
    let check = csum::ipv4_header(&h);
    h[10..12].copy_from_slice(&check);
    h
}

/// RFC 793 reset generation: if the segment had an ACK, the reset takes
/// its sequence number from it; otherwise it acknowledges the segment.
#[inline(always)]
fn reset_tcp(ip: &Ipv4Packet, sport: u16, dport: u16, seg: &Refused) -> [u8; 20] {
    let mut t = [0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    if seg.flags & TCP_ACK != 0 {
        t[4..8].copy_from_slice(&seg.ack.to_be_bytes());
        t[13] = TCP_RST;
    } else {
        let syn_fin = u32::from(seg.flags & TCP_SYN != 0) + u32::from(seg.flags & TCP_FIN != 0);
        let ack = seg.seq.wrapping_add(seg.payload).wrapping_add(syn_fin);
        t[8..12].copy_from_slice(&ack.to_be_bytes());
        t[13] = TCP_RST | TCP_ACK;
    }
    t[12] = 5 << 4;
    let check = csum::tcp_ipv4(&ip.dst, &ip.src, &t);
    t[16..18].copy_from_slice(&check);
    t
}
