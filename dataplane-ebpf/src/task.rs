//! Traffic a task sends, seen at TC ingress of its host-side veth: ARP is
//! answered here, IPv4 goes to a task on this node directly or to another
//! node in VXLAN. Nothing from a task reaches the host stack.

use aya_ebpf::programs::TcContext;
use network_types::eth::EthHdr;
use shoal_common::{
    DropReason, Stat,
    overlay::{ENDPOINT_LOCAL, ENDPOINT_REMOTE, TaskIface},
};

use crate::{
    arp, mem::ptr_at, overlay_maps, parse::parse_ipv4, stats::count, verdict::Action, vxlan,
};

const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;

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
        ETH_P_IPV4 => forward_ipv4(ctx, &iface),
        _ => Err(DropReason::UnsupportedL3),
    }
}

#[inline(always)]
fn forward_ipv4(ctx: &TcContext, iface: &TaskIface) -> Result<Action, DropReason> {
    let ip = parse_ipv4(ctx, EthHdr::LEN)?;
    if ip.src != iface.ip {
        return Err(DropReason::SpoofedSource);
    }
    let ep = overlay_maps::endpoint(iface.vni, ip.dst).ok_or(DropReason::UnknownEndpoint)?;
    match ep.kind {
        ENDPOINT_LOCAL => {
            let bytes = ctx.len();
            let action = vxlan::deliver(ctx, &ep, DropReason::UnknownEndpoint)?;
            count(Stat::LocalDelivery, bytes);
            Ok(action)
        }
        ENDPOINT_REMOTE => {
            let cfg = overlay_maps::node_config().ok_or(DropReason::NoNodeConfig)?;
            vxlan::encap(ctx, &cfg, iface, &ep, &ip)
        }
        _ => Err(DropReason::UnknownEndpoint),
    }
}
