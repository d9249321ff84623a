//! Handing a packet on without tunnelling it: into a task on this node
//! (straight into its namespace) or out of the underlay NIC.

use aya_ebpf::{
    helpers::{bpf_redirect_neigh, bpf_redirect_peer},
    programs::TcContext,
};
use network_types::eth::EthHdr;
use shoal_common::{DropReason, overlay::Endpoint, overlay::NodeConfig};

use crate::{
    lb,
    mem::ptr_at_mut,
    parse::Ipv4Packet,
    verdict::{Action, redirected},
};

/// Send a packet whose destination is on the underlay (a mesh client) out
/// of the underlay NIC; the kernel resolves the next hop.
#[inline(always)]
pub fn to_underlay(cfg: &NodeConfig) -> Result<Action, DropReason> {
    // SAFETY: plain helper call; null parameters: route on the destination.
    let rc = unsafe { bpf_redirect_neigh(cfg.underlay_ifindex, core::ptr::null_mut(), 0, 0) };
    redirected(rc, DropReason::NatFailed)?;
    Ok(Action::Redirect)
}

/// Deliver to local task `ep` on network `vni`, translating a service
/// reply back first.
#[inline(always)]
pub fn to_local_task(
    ctx: &TcContext,
    ep: &Endpoint,
    ip: &Ipv4Packet,
    vni: u32,
    failed: DropReason,
) -> Result<Action, DropReason> {
    lb::try_reply(ctx, ip, vni)?;
    to_task(ctx, ep, failed)
}

/// Address the frame to local task `ep` and put it straight into the task's
/// namespace (ingress of its interface).
#[inline(always)]
pub fn to_task(ctx: &TcContext, ep: &Endpoint, failed: DropReason) -> Result<Action, DropReason> {
    let eth: *mut EthHdr = ptr_at_mut(ctx, 0, failed)?;
    // SAFETY: bounds-checked by ptr_at_mut (re-derived after any resize).
    unsafe {
        (*eth).dst_addr = ep.mac;
        (*eth).src_addr = ep.host_mac;
    }
    // SAFETY: plain helper call; the Redirect verdict hands the packet to it.
    redirected(unsafe { bpf_redirect_peer(ep.ifindex, 0) }, failed)?;
    Ok(Action::Redirect)
}
