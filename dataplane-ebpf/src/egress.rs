//! Egress: what a task sends to an address outside the cluster leaves with
//! the node's address as its source, on a NAT port of its own (ICMP echo:
//! identifier); replies arriving on the underlay are translated back and
//! delivered to the task. A task's packet to the node's own address goes
//! to the node's stack untranslated (the node routes the answer back into
//! the task's veth). Tasks of `--internal` networks get neither.
//!
//! ```text
//!  task 10.0.1.5:40000 ──► node 198.18.0.11:61234 ──► world 198.18.0.200:80
//!  task 10.0.1.5:40000 ◄── (reverse entry)        ◄── world reply to :61234
//! ```

use aya_ebpf::programs::TcContext;
use shoal_common::{
    DropReason, Stat,
    egress::{SnatEntry, SnatRevEntry},
    lb::{CT_CLOSING, CT_SYN_SENT, FlowKey},
    overlay::{ENDPOINT_LOCAL, NodeConfig, TaskIface},
};

use crate::{
    ct, deliver,
    egress_maps::{self, SHOAL_SNAT_V1, SHOAL_SNATREV_V1},
    egress_port, lb_maps,
    nat::{self, End},
    overlay_maps,
    parse::{Ipv4Packet, L4},
    stats::count,
    verdict::Action,
};

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ID_OFF: usize = 4;

/// A task's packet for outside the cluster (no task, VIP or reply of a
/// translated flow matched it): to the node → its stack; elsewhere →
/// source NAT and out of the underlay.
#[inline(always)]
pub fn from_task(
    ctx: &TcContext,
    cfg: &NodeConfig,
    iface: &TaskIface,
    ip: &Ipv4Packet,
) -> Result<Action, DropReason> {
    // An address of the task's own subnet that no task holds is no way out.
    if overlay_maps::network(iface.vni).is_some_and(|n| n.contains(ip.dst)) {
        return Err(DropReason::UnknownEndpoint);
    }
    if !egress_maps::egress_allowed(iface.vni) {
        return Err(DropReason::NoEgress);
    }
    if ip.dst == cfg.underlay_ip {
        count(Stat::ToHost, ctx.len());
        return Ok(Action::Pass);
    }
    let key = forward_key(ctx, ip, iface.vni).ok_or(DropReason::UnknownEndpoint)?;
    let now = ct::now_ns();
    let flags = ct::tcp_flags(ctx, ip);
    let port = match known_flow(&key, now, flags) {
        Some(port) => port,
        None => new_flow(ctx, ip, cfg, &key, now, flags)?,
    };
    match ip.l4 {
        L4::Icmp => nat::rewrite_echo(ctx, ip, End::Source, cfg.underlay_ip, port)?,
        _ => nat::rewrite(ctx, ip, End::Source, cfg.underlay_ip, port)?,
    }
    count(Stat::Snat, ctx.len());
    deliver::to_underlay(cfg)
}

/// A packet from outside to this node's address: if it answers a task's
/// egress flow, translate it back and deliver it to the task. `Ok(None)`:
/// not an egress reply (the mesh or the node's stack may want it).
#[inline(always)]
pub fn from_outside(ctx: &TcContext, ip: &Ipv4Packet) -> Result<Option<Action>, DropReason> {
    let Some(rkey) = reply_key(ctx, ip) else {
        return Ok(None);
    };
    let Some(rev) = egress_maps::reverse(&rkey) else {
        return Ok(None);
    };
    let fkey = egress_maps::forward_of(&rkey, &rev);
    let Some(entry) = SHOAL_SNAT_V1.get_ptr_mut(fkey) else {
        return Ok(None);
    };
    // SAFETY: a map value pointer; we update it in place.
    let entry = unsafe { &mut *entry };
    let now = ct::now_ns();
    if entry.nat_port != rkey.dport
        || lb_maps::lb_config().expired(entry.state, entry.last_seen_ns, now)
    {
        return Ok(None);
    }
    let flags = ct::tcp_flags(ctx, ip);
    let (state, fins) = ct::advance(entry.state, entry.fins, flags, false);
    entry.state = state;
    entry.fins = fins;
    entry.last_seen_ns = now;
    let ep = overlay_maps::endpoint(rev.vni, rev.task_ip)
        .filter(|ep| ep.kind == ENDPOINT_LOCAL)
        .ok_or(DropReason::UnknownEndpoint)?;
    match ip.l4 {
        L4::Icmp => nat::rewrite_echo(ctx, ip, End::Destination, rev.task_ip, rev.task_port)?,
        _ => nat::rewrite(ctx, ip, End::Destination, rev.task_ip, rev.task_port)?,
    }
    count(Stat::RevSnat, ctx.len());
    deliver::to_task(ctx, &ep, DropReason::NatFailed).map(Some)
}

/// The key of a task's flow on network `vni`: TCP and UDP by their ports,
/// an ICMP echo request by its identifier (as the source port); `None` for
/// anything else (fragments, other ICMP, other protocols).
#[inline(always)]
fn forward_key(ctx: &TcContext, ip: &Ipv4Packet, vni: u32) -> Option<FlowKey> {
    let (sport, dport) = match ip.l4 {
        L4::Tcp { sport, dport } | L4::Udp { sport, dport } => {
            (sport.to_be_bytes(), dport.to_be_bytes())
        }
        L4::Icmp => (echo_id(ctx, ip, ICMP_ECHO_REQUEST)?, [0; 2]),
        _ => return None,
    };
    Some(FlowKey {
        src: ip.src,
        dst: ip.dst,
        sport,
        dport,
        proto: ip.proto,
        _pad: [0; 3],
        vni,
    })
}

/// The reverse key of a reply as it arrives: remote → node address and
/// NAT port (an ICMP echo reply: its identifier as the destination port).
#[inline(always)]
fn reply_key(ctx: &TcContext, ip: &Ipv4Packet) -> Option<FlowKey> {
    let (sport, dport) = match ip.l4 {
        L4::Tcp { sport, dport } | L4::Udp { sport, dport } => {
            (sport.to_be_bytes(), dport.to_be_bytes())
        }
        L4::Icmp => ([0; 2], echo_id(ctx, ip, ICMP_ECHO_REPLY)?),
        _ => return None,
    };
    Some(FlowKey {
        src: ip.src,
        dst: ip.dst,
        sport,
        dport,
        proto: ip.proto,
        _pad: [0; 3],
        vni: 0,
    })
}

/// The identifier of an ICMP echo message of type `kind` (code 0).
#[inline(always)]
fn echo_id(ctx: &TcContext, ip: &Ipv4Packet, kind: u8) -> Option<[u8; 2]> {
    let head: [u8; 2] = ctx.load(ip.l4_off).ok()?;
    if head != [kind, 0] {
        return None;
    }
    ctx.load(ip.l4_off + ICMP_ID_OFF).ok()
}

/// The NAT port of a live flow, refreshed with this packet.
#[inline(always)]
fn known_flow(key: &FlowKey, now: u64, flags: u8) -> Option<[u8; 2]> {
    let entry = SHOAL_SNAT_V1.get_ptr_mut(key)?;
    // SAFETY: a map value pointer; we update it in place.
    let entry = unsafe { &mut *entry };
    if lb_maps::lb_config().expired(entry.state, entry.last_seen_ns, now) {
        return None;
    }
    // The task's stack reused the ports of a closed connection: a new
    // connection on the same NAT port, tracked from its SYN.
    let (state, fins) = if entry.state == CT_CLOSING && ct::is_syn(flags) {
        (CT_SYN_SENT, 0)
    } else {
        ct::advance(entry.state, entry.fins, flags, true)
    };
    entry.state = state;
    entry.fins = fins;
    entry.last_seen_ns = now;
    Some(entry.nat_port)
}

/// Give a new flow its NAT port (`egress_port::choose`) and its entries.
#[inline(always)]
fn new_flow(
    ctx: &TcContext,
    ip: &Ipv4Packet,
    cfg: &NodeConfig,
    key: &FlowKey,
    now: u64,
    flags: u8,
) -> Result<[u8; 2], DropReason> {
    let (port, rkey) =
        egress_port::choose(ctx, key, cfg.underlay_ip, now).ok_or(DropReason::SnatNoPort)?;
    let rev = SnatRevEntry {
        task_ip: key.src,
        task_port: key.sport,
        vni: key.vni,
        ..Default::default()
    };
    let entry = SnatEntry {
        last_seen_ns: now,
        nat_port: port,
        state: ct::initial_state(ip, flags),
        ..Default::default()
    };
    // LRU inserts fail only for lack of memory: the packet still goes
    // out (its replies will not find their way back), counted.
    if SHOAL_SNATREV_V1.insert(rkey, rev, 0).is_err()
        || SHOAL_SNAT_V1.insert(key, entry, 0).is_err()
    {
        count(Stat::CtInsertFailed, ctx.len());
    }
    Ok(port)
}
