//! The underlay receive path: every frame arriving on a node's underlay NIC
//! is validated and classified; at TC, VXLAN frames for this node are
//! unwrapped and delivered to their task.

use aya_ebpf::programs::TcContext;
use shoal_common::{
    DropReason, Stat,
    overlay::{ENDPOINT_LOCAL, NodeConfig},
};

use crate::{
    lb,
    mem::Packet,
    overlay_maps,
    parse::{Frame, Ipv4Packet, L4, parse_frame},
    reject,
    stats::count,
    verdict::Action,
    vxlan::{self, Tunnel},
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

/// XDP: validate and pass (VXLAN is unwrapped at TC, where the skb's
/// offload state can be kept).
#[inline(always)]
pub fn try_underlay_xdp<P: Packet>(ctx: &P) -> Result<Action, DropReason> {
    classify(ctx).map(|_| Action::Pass)
}

/// TC: validate, then unwrap VXLAN addressed to this node, or send a
/// request to a published port (routing mesh) to a backend anywhere in the
/// cluster — without source NAT, so the task sees the client's address.
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
            vxlan::try_decap(ctx, &cfg, &ip)
        }
        L4::Tcp { .. } | L4::Udp { .. } => mesh(ctx, &cfg, &ip),
        _ => Ok(Action::Pass),
    }
}

/// A packet to one of this node's ports: a published port goes to a
/// backend; anything else is the host's own traffic.
#[inline(always)]
fn mesh(ctx: &TcContext, cfg: &NodeConfig, ip: &Ipv4Packet) -> Result<Action, DropReason> {
    let target = match lb::try_translate(ctx, ip, true) {
        Ok(Some(target)) => target,
        Ok(None) => return Ok(Action::Pass),
        Err(DropReason::NoBackend) => return reject::refuse(ctx, ip, cfg.underlay_ifindex),
        Err(e) => return Err(e),
    };
    let ep = overlay_maps::endpoint(target.vni, target.ip).ok_or(DropReason::UnknownEndpoint)?;
    if ep.kind == ENDPOINT_LOCAL {
        return vxlan::deliver(ctx, &ep, DropReason::UnknownEndpoint);
    }
    vxlan::encap(
        ctx,
        cfg,
        &Tunnel::to_endpoint(target.vni, &ep, vxlan::node_mac(cfg)),
        ip,
    )
}
