//! The XDP fast path on the underlay (switched by `NodeConfig::flags`):
//! a VXLAN frame for a local task that needs no translation is unwrapped
//! here and sent to the task's host-side veth before the kernel builds an
//! skb for it. Everything else this path does not fully handle — a frame
//! for no local task (mesh return path or a drop TC decides), a reply of a
//! translated flow, ICMP, fragments, frames longer than the underlay MTU —
//! is passed unchanged to `shoal_underlay_tc`, the fallback. What both
//! hooks decide, they decide alike: the same checks in the same order, the
//! same drop reasons, the same counters (plus `xdp-decap`).

use aya_ebpf::{
    bindings::xdp_action,
    helpers::{bpf_redirect, bpf_xdp_adjust_head},
    programs::XdpContext,
};
use network_types::eth::EthHdr;
use shoal_common::{
    DropReason, Stat,
    overlay::{ENDPOINT_LOCAL, Endpoint, NodeConfig},
};

use crate::{
    lb, lb_maps,
    mem::{Packet, ptr_at_mut},
    mesh, overlay_maps,
    parse::{Ipv4Packet, L4},
    stats::count,
    verdict::Action,
    vxlan,
};

/// A VXLAN frame for this node (`outer`: its outer headers): unwrapped and
/// redirected to its local task if nothing but delivery is needed; dropped
/// for the reasons TC would drop it before looking at the inner
/// destination; otherwise passed to TC.
#[inline(always)]
pub fn from_tunnel(
    ctx: &XdpContext,
    cfg: &NodeConfig,
    outer: &Ipv4Packet,
) -> Result<Action, DropReason> {
    // Longer than the wire allows: an aggregated skb under generic XDP,
    // whose GSO state only TC's decapsulation keeps right.
    if ctx.len() > cfg.underlay_mtu + EthHdr::LEN as u32 {
        return Ok(Action::Pass);
    }
    if !overlay_maps::is_peer(outer.src) {
        return Err(DropReason::UnknownPeer);
    }
    let (vni, inner) = vxlan::inner_of(ctx, outer, false)?;
    let Some(ep) = overlay_maps::endpoint(vni, inner.dst).filter(|ep| ep.kind == ENDPOINT_LOCAL)
    else {
        return Ok(Action::Pass);
    };
    if !plain_delivery(&inner, vni) {
        return Ok(Action::Pass);
    }
    mesh::note_request_via(&inner, outer.src, vni, ctx.len());
    decap_to_task(ctx, &inner, &ep)?;
    count(Stat::Decap, ctx.len());
    count(Stat::XdpDecap, ctx.len());
    Ok(Action::Redirect)
}

/// Whether the inner packet goes to its task as it is: TCP or UDP (not a
/// fragment, no ICMP error to translate) of a flow with no reply state
/// (a service reply to rewrite, or a mesh return path TC would note).
#[inline(always)]
fn plain_delivery(inner: &Ipv4Packet, vni: u32) -> bool {
    if !matches!(inner.l4, L4::Tcp { .. } | L4::Udp { .. }) {
        return false;
    }
    let Some((key, _, _)) = lb::flow_of(inner, vni) else {
        return false;
    };
    // SAFETY: only the presence of the entry is used.
    unsafe { lb_maps::SHOAL_REP_V2.get(key).is_none() }
}

/// Strip everything in front of the inner Ethernet header, readdress it
/// from the host-side veth to the task, and redirect it to that veth
/// (whose peer, the task's interface, takes XDP frames: `dp apply` turns
/// GRO on there, which gives a veth the NAPI context it needs).
#[inline(always)]
fn decap_to_task(ctx: &XdpContext, inner: &Ipv4Packet, ep: &Endpoint) -> Result<(), DropReason> {
    let shrink = (inner.l3_off - EthHdr::LEN) as i32;
    // SAFETY: plain helper call; every pointer is re-derived afterwards.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, shrink) } != 0 {
        return Err(DropReason::DecapFailed);
    }
    let eth: *mut EthHdr = ptr_at_mut(ctx, 0, DropReason::DecapFailed)?;
    // SAFETY: bounds-checked by ptr_at_mut after the head moved. The
    // EtherType is the inner header's, which `inner_of` checked is IPv4.
    unsafe {
        (*eth).dst_addr = ep.mac;
        (*eth).src_addr = ep.host_mac;
    }
    // SAFETY: plain helper call; the XDP_REDIRECT verdict hands the frame on.
    let rc = unsafe { bpf_redirect(ep.ifindex, 0) };
    if rc != i64::from(xdp_action::XDP_REDIRECT) {
        return Err(DropReason::DecapFailed);
    }
    Ok(())
}
