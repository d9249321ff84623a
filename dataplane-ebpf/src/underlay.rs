//! The underlay receive path: every frame arriving on a node's underlay NIC
//! is validated and classified; at TC, VXLAN frames for this node are
//! unwrapped and delivered to their task.

use aya_ebpf::programs::TcContext;
use shoal_common::{DropReason, Stat};

use crate::{
    mem::Packet,
    overlay_maps,
    parse::{Frame, Ipv4Packet, L4, parse_frame},
    stats::count,
    verdict::Action,
    vxlan,
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

/// TC: validate, then unwrap VXLAN addressed to this node.
#[inline(always)]
pub fn try_underlay_tc(ctx: &TcContext) -> Result<Action, DropReason> {
    match classify(ctx)? {
        Frame::Ipv4(ip) if is_vxlan_for_this_node(&ip) => vxlan::try_decap(ctx, &ip),
        _ => Ok(Action::Pass),
    }
}

#[inline(always)]
fn is_vxlan_for_this_node(ip: &Ipv4Packet) -> bool {
    let L4::Udp { dport, .. } = ip.l4 else {
        return false;
    };
    overlay_maps::node_config()
        .is_some_and(|cfg| dport == u16::from_be_bytes(cfg.vxlan_port) && ip.dst == cfg.underlay_ip)
}
