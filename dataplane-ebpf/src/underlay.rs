//! The underlay receive path: every frame arriving on a node's underlay NIC
//! is validated and classified; at TC, VXLAN frames for this node are
//! unwrapped and delivered to their task, and replies to tasks' egress
//! flows are translated back to them.

use aya_ebpf::programs::{TcContext, XdpContext};
use network_types::eth::EthHdr;
use shoal_common::{
    DropReason, Stat,
    overlay::{ENDPOINT_LOCAL, NodeConfig},
};

use crate::{
    deliver, egress, egress_icmp, lb,
    mem::Packet,
    mesh, overlay_maps,
    parse::{Frame, Ipv4Packet, L4, parse_frame, parse_ipv4},
    stats::count,
    verdict::Action,
    vxlan, xdp_fast,
};

/// Validate a frame's headers and count what it is.
#[inline(always)]
pub fn classify<P: Packet>(ctx: &P) -> Result<Frame, DropReason> {
    let bytes = ctx.len();
    let frame = parse_frame(ctx)?;
    match frame {
        Frame::NotIpv4 => count(Stat::NotIpv4, bytes),
        Frame::Ipv4(ip) => {
            if ip.has_options {
                count(Stat::Ipv4Options, bytes);
            }
            match ip.l4 {
                L4::Fragment => count(Stat::Fragment, bytes),
                L4::Other(_) => count(Stat::OtherL4, bytes),
                L4::Tcp { .. } | L4::Udp { .. } | L4::Icmp => {}
            }
        }
    }
    Ok(frame)
}

/// XDP: validate; with the fast path on, unwrap VXLAN for a local task
/// that needs nothing but delivery (`xdp_fast`). Everything else passes
/// to TC.
#[inline(always)]
pub fn try_underlay_xdp(ctx: &XdpContext) -> Result<Action, DropReason> {
    let Frame::Ipv4(ip) = classify(ctx)? else {
        return Ok(Action::Pass);
    };
    let Some(cfg) = overlay_maps::node_config().filter(NodeConfig::xdp_fast_path) else {
        return Ok(Action::Pass);
    };
    match ip.l4 {
        L4::Udp { dport, .. }
            if ip.dst == cfg.underlay_ip && dport == u16::from_be_bytes(cfg.vxlan_port) =>
        {
            xdp_fast::from_tunnel(ctx, &cfg, &ip)
        }
        _ => Ok(Action::Pass),
    }
}

/// TC: validate, then unwrap VXLAN addressed to this node, translate a
/// reply (or ICMP error) of a task's egress flow back to the task, or send
/// a request to a published port (routing mesh) to a backend anywhere in
/// the cluster — without source NAT, so the task sees the client's address.
#[inline(always)]
pub fn try_underlay_tc(ctx: &TcContext) -> Result<Action, DropReason> {
    let Frame::Ipv4(ip) = classify(ctx)? else {
        return Ok(Action::Pass);
    };
    let Some(cfg) = overlay_maps::node_config() else {
        return Ok(Action::Pass);
    };
    if ip.dst != cfg.underlay_ip {
        return Ok(Action::Pass);
    }
    match ip.l4 {
        L4::Udp { dport, .. } if dport == u16::from_be_bytes(cfg.vxlan_port) => {
            from_tunnel(ctx, &cfg, &ip, false)
        }
        // A reply to a task's egress flow first: its reverse key names the
        // remote end, so a client of the mesh never matches one.
        L4::Tcp { .. } | L4::Udp { .. } | L4::Icmp => match egress::from_outside(ctx, &ip)? {
            Some(action) => Ok(action),
            None if matches!(ip.l4, L4::Icmp) => {
                Ok(egress_icmp::from_outside(ctx, &ip)?.unwrap_or(Action::Pass))
            }
            None => mesh::from_client(ctx, &cfg, &ip),
        },
        _ => Ok(Action::Pass),
    }
}

/// A VXLAN frame for this node (`outer`: its outer headers) from one of the
/// swarm's nodes (anything else is dropped: a forged frame must neither
/// reach a task nor plant a mesh return path): unwrapped and delivered to the local task it is for, or — a mesh reply coming back to
/// the node that translated its request — sent on to the client. Anything
/// else is dropped before the frame is touched. `via_wg`: it came out of
/// WireGuard (the TAP device), so it may be for an encrypted network.
#[inline(always)]
fn from_tunnel(
    ctx: &TcContext,
    cfg: &NodeConfig,
    outer: &Ipv4Packet,
    via_wg: bool,
) -> Result<Action, DropReason> {
    if !overlay_maps::is_peer(outer.src) {
        return Err(DropReason::UnknownPeer);
    }
    let (vni, inner) = vxlan::inner_of(ctx, outer, via_wg)?;
    let local = overlay_maps::endpoint(vni, inner.dst).filter(|ep| ep.kind == ENDPOINT_LOCAL);
    if local.is_none() && !lb::is_reply(ctx, &inner, vni) {
        return Err(DropReason::UnknownEndpoint);
    }
    if local.is_some() {
        mesh::note_request_via(&inner, outer.src, vni, ctx.len());
    }
    vxlan::decap(ctx, &inner)?;
    let ip = parse_ipv4(ctx, EthHdr::LEN)?;
    let action = match local {
        Some(ep) => deliver::to_local_task(ctx, &ep, &ip, vni, DropReason::DecapFailed)?,
        None => mesh::reply_from_tunnel(ctx, cfg, &ip, vni)?,
    };
    count(Stat::Decap, ctx.len());
    Ok(action)
}

/// TC ingress on the WireGuard TAP device: a VXLAN frame userspace
/// decrypted from a peer (which checked that the peer's key covers the
/// frame's outer source). Unwrapped like the underlay's, encrypted
/// networks included; anything else is dropped.
#[inline(always)]
pub fn try_wg_tc(ctx: &TcContext) -> Result<Action, DropReason> {
    let Frame::Ipv4(ip) = parse_frame(ctx)? else {
        return Err(DropReason::UnsupportedL3);
    };
    let cfg = overlay_maps::node_config().ok_or(DropReason::NoNodeConfig)?;
    match ip.l4 {
        L4::Udp { dport, .. }
            if dport == u16::from_be_bytes(cfg.vxlan_port) && ip.dst == cfg.underlay_ip =>
        {
            from_tunnel(ctx, &cfg, &ip, true)
        }
        _ => Err(DropReason::MalformedVxlan),
    }
}
