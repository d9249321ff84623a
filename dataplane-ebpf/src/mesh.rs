//! The routing mesh: a client's request to a published port on any node
//! goes to a backend anywhere in the cluster without source NAT, so the
//! task sees the client's address; the backend's replies come back through
//! the node that translated the request and leave from there.
//!
//! ```text
//!  client ──► node A :published ──VXLAN──► node B ──► task (sees client)
//!  client ◄── node A (reverse NAT) ◄─VXLAN── node B ◄── task's reply
//! ```
//!
//! Node B learns "replies of this flow go back to A" from the tunnelled
//! request (a return-path entry in the reply table); node A translates the
//! reply back with the conntrack state it made for the request.

use aya_ebpf::programs::TcContext;
use shoal_common::{
    DropReason, Stat,
    lb::{FlowKey, REPLY_RETURN_PATH, ReplyEntry},
    overlay::{ENDPOINT_LOCAL, NodeConfig, TaskIface},
};

use crate::{
    ct, deliver, egress,
    lb::{self, Reply, Sender},
    lb_maps::{self, SHOAL_REP_V2},
    overlay_maps,
    parse::Ipv4Packet,
    reject,
    stats::count,
    verdict::Action,
    vxlan::{self, Tunnel},
};

/// A packet to one of this node's ports: a published port goes to a
/// backend (here or through the overlay); anything else is the host's own
/// traffic and passes.
#[inline(always)]
pub fn from_client(
    ctx: &TcContext,
    cfg: &NodeConfig,
    ip: &Ipv4Packet,
) -> Result<Action, DropReason> {
    let target = match lb::try_translate(ctx, ip, Sender::Mesh) {
        Ok(Some(target)) => target,
        Ok(None) => return Ok(Action::Pass),
        Err(DropReason::NoBackend) => return reject::refuse(ctx, ip, cfg.underlay_ifindex),
        Err(e) => return Err(e),
    };
    let ep = overlay_maps::endpoint(target.vni, target.ip).ok_or(DropReason::UnknownEndpoint)?;
    if ep.kind == ENDPOINT_LOCAL {
        return deliver::to_task(ctx, &ep, DropReason::UnknownEndpoint);
    }
    vxlan::encap(
        ctx,
        cfg,
        &Tunnel::to_endpoint(target.vni, &ep, vxlan::node_mac(cfg)),
        ip,
    )
}

/// A tunnelled packet for a local task from an address outside the overlay
/// is a mesh request another node (`via_node`) translated: remember to send
/// the task's replies back there (`bytes`: the frame's length, for the
/// failure counter).
#[inline(always)]
pub fn note_request_via(ip: &Ipv4Packet, via_node: [u8; 4], vni: u32, bytes: u32) {
    if overlay_maps::endpoint(vni, ip.src).is_some() {
        return;
    }
    let Some((flow, _, _)) = lb::flow_of(ip, vni) else {
        return;
    };
    let reply_key = FlowKey {
        src: flow.dst,
        dst: flow.src,
        sport: flow.dport,
        dport: flow.sport,
        ..flow
    };
    let now = ct::now_ns();
    if let Some(existing) = SHOAL_REP_V2.get_ptr_mut(reply_key) {
        // SAFETY: a map value pointer; we update it in place.
        let existing = unsafe { &mut *existing };
        if existing.kind == REPLY_RETURN_PATH
            && existing.via_node == via_node
            && existing.vni == vni
        {
            existing.last_seen_ns = now;
            return;
        }
    }
    let reply = ReplyEntry {
        last_seen_ns: now,
        kind: REPLY_RETURN_PATH,
        via_node,
        vni,
        ..Default::default()
    };
    if SHOAL_REP_V2.insert(reply_key, reply, 0).is_err() {
        count(Stat::CtInsertFailed, bytes);
    }
}

/// A tunnelled packet (on network `vni`) for no local task: only a
/// backend's reply to a request this node translated, which is rewritten
/// back and leaves to the client.
#[inline(always)]
pub fn reply_from_tunnel(
    ctx: &TcContext,
    cfg: &NodeConfig,
    ip: &Ipv4Packet,
    vni: u32,
) -> Result<Action, DropReason> {
    match lb::try_reply(ctx, ip, vni)? {
        Some(Reply::Translated) => deliver::to_underlay(cfg),
        _ => Err(DropReason::UnknownEndpoint),
    }
}

/// A task's packet to an address outside its network: replies to mesh
/// clients leave the way their requests came — from here if this node
/// translated the request, else through the overlay to the node that did.
/// A packet to another network's VIP is refused as `not-a-member`;
/// anything else is egress (source NAT, or the node's own stack).
#[inline(always)]
pub fn reply_from_task(
    ctx: &TcContext,
    iface: &TaskIface,
    ip: &Ipv4Packet,
) -> Result<Action, DropReason> {
    let cfg = overlay_maps::node_config().ok_or(DropReason::NoNodeConfig)?;
    match lb::try_reply(ctx, ip, iface.vni)? {
        Some(Reply::Translated) => deliver::to_underlay(&cfg),
        Some(Reply::ReturnPath { via_node, vni }) => {
            let tunnel = Tunnel {
                vni,
                node_ip: via_node,
                src_mac: iface.mac,
                dst_mac: vxlan::node_mac(&cfg),
            };
            let action = vxlan::encap(ctx, &cfg, &tunnel, ip)?;
            count(Stat::ReturnPath, ctx.len());
            Ok(action)
        }
        None if lb_maps::is_vip(ip.dst) => Err(DropReason::NotAMember),
        None => egress::from_task(ctx, &cfg, iface, ip),
    }
}
