//! Traffic a task sends, seen at TC ingress of its host-side veth: ARP is
//! answered here; IPv4 to a service is translated to a backend; IPv4 goes to
//! a task on this node directly or to another node in VXLAN; replies to mesh
//! clients go out of the underlay or back to the node that translated them.
//! Anything else goes out as egress (`egress`): source NAT to the node's
//! address, or into the node's stack when it is the destination.

use crate::proto::{ETH_P_ARP, ETH_P_IPV4};
use aya_ebpf::programs::TcContext;
use network_types::eth::EthHdr;
use shoal_common::{
    DropReason, Stat,
    overlay::{ENDPOINT_LOCAL, ENDPOINT_REMOTE, TaskIface},
};

use crate::{
    arp, deliver, lb,
    mem::ptr_at,
    mesh, overlay_maps,
    parse::{Ipv4Packet, parse_ipv4},
    reject,
    stats::count,
    verdict::Action,
    vxlan::{self, Tunnel},
};

/// Forward one frame from a task.
#[inline(always)]
pub fn try_task_ingress(ctx: &TcContext) -> Result<Action, DropReason> {
    // SAFETY: reading a field of the context the kernel passed us.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    let iface = overlay_maps::task_iface(ifindex).ok_or(DropReason::NoTaskIface)?;
    let eth: *const EthHdr = ptr_at(ctx, 0, DropReason::TruncatedEthernet)?;
    // SAFETY: bounds-checked by ptr_at.
    match u16::from_be(unsafe { (*eth).ether_type }) {
        ETH_P_ARP => arp::try_answer(ctx, ifindex, &iface),
        ETH_P_IPV4 => forward_ipv4(ctx, ifindex, &iface),
        _ => Err(DropReason::UnsupportedL3),
    }
}

#[inline(always)]
fn forward_ipv4(ctx: &TcContext, ifindex: u32, iface: &TaskIface) -> Result<Action, DropReason> {
    let ip = parse_ipv4(ctx, EthHdr::LEN)?;
    if ip.src != iface.ip {
        return Err(DropReason::SpoofedSource);
    }
    match lb::try_translate(ctx, &ip, lb::Sender::Task(iface.vni)) {
        Ok(Some(target)) => return to_backend(ctx, iface, target, &ip),
        Ok(None) => {}
        Err(DropReason::NoBackend) => return reject::refuse(ctx, &ip, ifindex),
        Err(e) => return Err(e),
    }
    match overlay_maps::endpoint(iface.vni, ip.dst) {
        Some(ep) if ep.kind == ENDPOINT_LOCAL => {
            let bytes = ctx.len();
            let action =
                deliver::to_local_task(ctx, &ep, &ip, iface.vni, DropReason::UnknownEndpoint)?;
            count(Stat::LocalDelivery, bytes);
            Ok(action)
        }
        Some(ep) if ep.kind == ENDPOINT_REMOTE => {
            let cfg = overlay_maps::node_config().ok_or(DropReason::NoNodeConfig)?;
            vxlan::encap(
                ctx,
                &cfg,
                &Tunnel::to_endpoint(iface.vni, &ep, iface.mac),
                &ip,
            )
        }
        // An endpoint of no kind `dp apply` writes: forwarded nowhere.
        Some(_) => Err(DropReason::UnknownEndpoint),
        None => mesh::reply_from_task(ctx, iface, &ip),
    }
}

/// A translated packet: route it to its backend on the backend's network.
#[inline(always)]
fn to_backend(
    ctx: &TcContext,
    iface: &TaskIface,
    target: lb::Target,
    ip: &Ipv4Packet,
) -> Result<Action, DropReason> {
    let ep = overlay_maps::endpoint(target.vni, target.ip).ok_or(DropReason::UnknownEndpoint)?;
    if ep.kind == ENDPOINT_LOCAL {
        let bytes = ctx.len();
        let action = deliver::to_task(ctx, &ep, DropReason::UnknownEndpoint)?;
        count(Stat::LocalDelivery, bytes);
        return Ok(action);
    }
    let cfg = overlay_maps::node_config().ok_or(DropReason::NoNodeConfig)?;
    vxlan::encap(
        ctx,
        &cfg,
        &Tunnel::to_endpoint(target.vni, &ep, iface.mac),
        ip,
    )
}
