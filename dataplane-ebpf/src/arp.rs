//! The ARP responder for tasks: every address in a task's subnet is "at"
//! the task's host-side veth MAC, so the task sends everything there and
//! the data plane decides where it goes. No bridge, no flooding.

use aya_ebpf::{helpers::bpf_redirect, programs::TcContext};
use network_types::{arp::ArpHdr, eth::EthHdr};
use shoal_common::{DropReason, Stat, overlay::TaskIface};

use crate::{
    mem::ptr_at_mut,
    overlay_maps,
    stats::count,
    verdict::{Action, redirected},
};

const ARP_HTYPE_ETHERNET: u16 = 1;
const ARP_PTYPE_IPV4: u16 = 0x0800;
const ARP_OP_REQUEST: u16 = 1;
const ARP_OP_REPLY: u16 = 2;

/// Answer an ARP request from the task behind `ifindex` in place and send
/// the reply back out of the same veth, towards the task.
#[inline(always)]
pub fn try_answer(ctx: &TcContext, ifindex: u32, iface: &TaskIface) -> Result<Action, DropReason> {
    let eth: *mut EthHdr = ptr_at_mut(ctx, 0, DropReason::TruncatedEthernet)?;
    let arp: *mut ArpHdr = ptr_at_mut(ctx, EthHdr::LEN, DropReason::ArpNotAnswered)?;
    // SAFETY: both headers were bounds-checked by ptr_at_mut.
    let (eth, arp) = unsafe { (&mut *eth, &mut *arp) };
    let is_ipv4_request = arp.htype() == ARP_HTYPE_ETHERNET
        && arp.ptype() == ARP_PTYPE_IPV4
        && arp.hlen == 6
        && arp.plen == 4
        && arp.oper() == ARP_OP_REQUEST;
    let network = overlay_maps::network(iface.vni).ok_or(DropReason::UnknownVni)?;
    // A task asking for its own address needs no answer: a gratuitous ARP
    // (sender = target) or an RFC 5227 probe (sender 0.0.0.0), to which an
    // answer would say the address is taken.
    if !is_ipv4_request || !network.contains(arp.tpa) || arp.tpa == arp.spa || arp.tpa == iface.ip {
        return Err(DropReason::ArpNotAnswered);
    }
    let (asker_mac, asker_ip, wanted_ip) = (arp.sha, arp.spa, arp.tpa);
    arp.set_oper(ARP_OP_REPLY);
    arp.sha = iface.host_mac;
    arp.spa = wanted_ip;
    arp.tha = asker_mac;
    arp.tpa = asker_ip;
    eth.dst_addr = asker_mac;
    eth.src_addr = iface.host_mac;
    // SAFETY: plain helper call; the Redirect verdict hands the packet to it.
    redirected(
        unsafe { bpf_redirect(ifindex, 0) },
        DropReason::ArpNotAnswered,
    )?;
    count(Stat::ArpReply, ctx.len());
    Ok(Action::Redirect)
}
