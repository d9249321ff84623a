//! ICMP errors about a task's egress flow (a remote "port unreachable", a
//! router's "time exceeded"): they reach the node's address quoting the
//! translated packet (node address and NAT port); the task must see them
//! addressed to itself, quoting the packet it sent, or its socket never
//! learns of the error.

use aya_ebpf::programs::TcContext;
use shoal_common::{DropReason, Stat, egress::SnatRevEntry, lb::FlowKey, overlay::ENDPOINT_LOCAL};

use crate::{
    ct, deliver, egress_maps,
    icmp::{
        ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED, QUOTE_OFF, QUOTED_SPORT_OFF, QUOTED_SRC_OFF,
        rewrite_quoted,
    },
    overlay_maps,
    parse::{Ipv4Packet, L4},
    proto::{IPPROTO_TCP, IPPROTO_UDP},
    stats::count,
    verdict::Action,
};

const IP_CSUM_OFF: usize = 10;
const IP_DST_OFF: usize = 16;

/// If `ip` is an ICMP error quoting a packet of a live egress flow,
/// translate it back and deliver it to the task; `Ok(None)` otherwise.
#[inline(always)]
pub fn from_outside(ctx: &TcContext, ip: &Ipv4Packet) -> Result<Option<Action>, DropReason> {
    let Some(rkey) = quoted_reply_key(ctx, ip) else {
        return Ok(None);
    };
    let Some(rev) = egress_maps::live_reverse(&rkey, ct::now_ns()) else {
        return Ok(None);
    };
    let ep = overlay_maps::endpoint(rev.vni, rev.task_ip)
        .filter(|ep| ep.kind == ENDPOINT_LOCAL)
        .ok_or(DropReason::UnknownEndpoint)?;
    rewrite(ctx, ip, &rev, rkey.dport)?;
    count(Stat::RevSnat, ctx.len());
    deliver::to_task(ctx, &ep, DropReason::NatFailed).map(Some)
}

/// The reverse key of the flow an ICMP error quotes: the quoted packet went
/// node address:NAT port → remote, its replies run the other way.
#[inline(always)]
fn quoted_reply_key(ctx: &TcContext, ip: &Ipv4Packet) -> Option<FlowKey> {
    if !matches!(ip.l4, L4::Icmp) {
        return None;
    }
    let head: [u8; 1] = ctx.load(ip.l4_off).ok()?;
    if head[0] != ICMP_DEST_UNREACH && head[0] != ICMP_TIME_EXCEEDED {
        return None;
    }
    let q: [u8; 24] = ctx.load(ip.l4_off + QUOTE_OFF).ok()?;
    if q[0] != 0x45 || (q[9] != IPPROTO_TCP && q[9] != IPPROTO_UDP) {
        return None;
    }
    if [q[12], q[13], q[14], q[15]] != ip.dst {
        return None;
    }
    Some(FlowKey {
        src: [q[16], q[17], q[18], q[19]],
        dst: ip.dst,
        sport: [q[22], q[23]],
        dport: [q[20], q[21]],
        proto: q[9],
        _pad: [0; 3],
        vni: 0,
    })
}

/// Node address and NAT port → the task's, in the quoted packet (its
/// header checksum and the ICMP checksum follow) and as the outer
/// destination.
#[inline(always)]
fn rewrite(
    ctx: &TcContext,
    ip: &Ipv4Packet,
    rev: &SnatRevEntry,
    nat_port: [u8; 2],
) -> Result<(), DropReason> {
    let fail = |_| DropReason::NatFailed;
    rewrite_quoted(
        ctx,
        ip,
        (QUOTED_SRC_OFF, QUOTED_SPORT_OFF),
        (ip.dst, nat_port),
        (rev.task_ip, rev.task_port),
    )?;
    let (old_addr, new_addr) = (
        u64::from(u32::from_ne_bytes(ip.dst)),
        u64::from(u32::from_ne_bytes(rev.task_ip)),
    );
    ctx.l3_csum_replace(ip.l3_off + IP_CSUM_OFF, old_addr, new_addr, 4)
        .map_err(fail)?;
    ctx.store(ip.l3_off + IP_DST_OFF, &rev.task_ip, 0)
        .map_err(fail)?;
    Ok(())
}
