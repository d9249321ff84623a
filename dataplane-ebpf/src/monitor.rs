//! Events for `shoal dp monitor`: a drop with its reason, or (trace) a
//! packet's verdict, put in a ring buffer only while a listener's flags
//! are on. Off, the cost is the one config lookup in [`listening`].
//!
//! The headers are read again here, best effort, from the frame as the
//! program leaves it: a drop may come from any parse stage, so nothing the
//! path parsed is at hand, and a malformed packet still reports what it
//! has (a truncated frame reports zero addresses).

use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{Array, RingBuf},
    programs::{TcContext, XdpContext},
};
use network_types::{eth::EthHdr, ip::Ipv4Hdr, udp::UdpHdr};
use shoal_common::{
    DropReason, maps,
    monitor::{
        EVENT_DROP, EVENT_TRACE, FlowAddrs, MONITOR_DROPS, MONITOR_TRACE, MonitorConfig,
        MonitorEvent, MonitorProgram, VERDICT_DROP,
    },
    overlay::VXLAN_PORT,
};

use crate::{
    mem::{Packet, ptr_at},
    proto::{ETH_P_IPV4, IPPROTO_TCP, IPPROTO_UDP},
};

/// Events not yet read; see `shoal_common::maps::MONITOR_EVENTS`.
#[map(name = "shoal_mon_v1")]
static SHOAL_MON_V1: RingBuf = RingBuf::pinned(maps::MONITOR_EVENTS_BYTES, 0);

/// `u32 0` → what the listener wants; see `shoal_common::maps::MONITOR_CONFIG`.
#[map(name = "shoal_moncfg_v1")]
static SHOAL_MONCFG_V1: Array<MonitorConfig> = Array::pinned(1, 0);

/// VXLAN header bytes between the outer UDP header and the inner frame.
const VXLAN_HDR_LEN: usize = 8;
/// `ptr_at` wants a reason for a short packet; a short read here only
/// means "no more headers", never a drop.
const SHORT: DropReason = DropReason::TruncatedEthernet;

/// The device a packet arrived on.
pub trait Ingress {
    /// Its ifindex (host order).
    fn arrival_ifindex(&self) -> u32;
}

impl Ingress for XdpContext {
    #[inline(always)]
    fn arrival_ifindex(&self) -> u32 {
        XdpContext::ingress_ifindex(self) as u32
    }
}

impl Ingress for TcContext {
    #[inline(always)]
    fn arrival_ifindex(&self) -> u32 {
        // At TC ingress `ifindex` is the arrival device (what the task
        // path keys its table by); `ingress_ifindex` would be the same.
        // SAFETY: reading a field of the context the kernel passed us.
        unsafe { (*self.skb.skb).ifindex }
    }
}

/// The listener's settings if it asked for `want` and its lease holds. A
/// lapsed lease (the listener died without clearing it) turns the flags
/// off here, so the next packets pay only the lookup again.
#[inline(always)]
fn listening(want: u32) -> Option<MonitorConfig> {
    let cfg = SHOAL_MONCFG_V1.get_ptr_mut(0)?;
    // SAFETY: a valid pointer into the array's one slot.
    if unsafe { (*cfg).flags } & want == 0 {
        return None;
    }
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: as above; a racing listener rewrites the whole slot on its
    // next renewal, so losing its write to this clear costs one period.
    unsafe {
        if now > (*cfg).lease_until_ns {
            (*cfg).flags = 0;
            return None;
        }
        Some(*cfg)
    }
}

/// Emit a drop event for `reason` if a listener wants drops.
#[inline(always)]
pub fn drop<P: Packet + Ingress>(ctx: &P, program: MonitorProgram, reason: DropReason, len: u32) {
    if let Some(cfg) = listening(MONITOR_DROPS) {
        emit(
            ctx,
            &cfg,
            EVENT_DROP,
            program,
            VERDICT_DROP,
            reason as u32,
            len,
        );
    }
}

/// Emit a trace event with `verdict` if a listener traces this packet.
#[inline(always)]
pub fn trace<P: Packet + Ingress>(ctx: &P, program: MonitorProgram, verdict: u8) {
    if let Some(cfg) = listening(MONITOR_TRACE) {
        emit(ctx, &cfg, EVENT_TRACE, program, verdict, 0, ctx.len());
    }
}

/// Read the headers, apply the filter and submit the event. A full ring
/// loses the event; the counters still count the packet.
#[inline(always)]
fn emit<P: Packet + Ingress>(
    ctx: &P,
    cfg: &MonitorConfig,
    kind: u8,
    program: MonitorProgram,
    verdict: u8,
    reason: u32,
    len: u32,
) {
    let mut event = MonitorEvent {
        kind,
        program: program as u8,
        verdict,
        reason,
        ifindex: ctx.arrival_ifindex(),
        len,
        ..MonitorEvent::default()
    };
    read_headers(ctx, &mut event);
    let inner_matches = event.has_inner == 1 && event.inner.matches(cfg);
    if !event.outer.matches(cfg) && !inner_matches {
        return;
    }
    let _ = SHOAL_MON_V1.output::<MonitorEvent>(&event, 0);
}

/// Fill the outer headers and, for a VXLAN frame, its VNI and inner headers.
#[inline(always)]
fn read_headers<P: Packet>(ctx: &P, event: &mut MonitorEvent) {
    let Some(l4) = read_ipv4(ctx, 0, &mut event.outer) else {
        return;
    };
    if event.outer.proto != IPPROTO_UDP || event.outer.dport != VXLAN_PORT {
        return;
    }
    let vxlan = l4 + UdpHdr::LEN;
    let Ok(hdr) = ptr_at::<[u8; VXLAN_HDR_LEN], P>(ctx, vxlan, SHORT) else {
        return;
    };
    // SAFETY: bounds-checked by ptr_at.
    let hdr = unsafe { *hdr };
    event.vni = u32::from_be_bytes([0, hdr[4], hdr[5], hdr[6]]);
    if read_ipv4(ctx, vxlan + VXLAN_HDR_LEN, &mut event.inner).is_some() {
        event.has_inner = 1;
    }
}

/// Read the Ethernet frame at `eth_off`: its IPv4 addresses, protocol and
/// TCP/UDP ports into `out`. Returns the L4 offset, if it got that far.
#[inline(always)]
fn read_ipv4<P: Packet>(ctx: &P, eth_off: usize, out: &mut FlowAddrs) -> Option<usize> {
    let eth: *const EthHdr = ptr_at(ctx, eth_off, SHORT).ok()?;
    // SAFETY: bounds-checked by ptr_at.
    if u16::from_be(unsafe { (*eth).ether_type }) != ETH_P_IPV4 {
        return None;
    }
    let l3 = eth_off + EthHdr::LEN;
    let ip: *const Ipv4Hdr = ptr_at(ctx, l3, SHORT).ok()?;
    // SAFETY: bounds-checked by ptr_at.
    let ip = unsafe { *ip };
    out.src = ip.src_addr;
    out.dst = ip.dst_addr;
    out.proto = ip.proto;
    // The mask bounds the offset for the verifier; a bogus IHL only means
    // the ports come from the wrong bytes of a packet that is dropped anyway.
    let l4 = l3 + ((ip.vihl & 0x0f) as usize) * 4;
    // A later fragment has no L4 header: its first bytes are payload.
    let later_fragment = u16::from_be_bytes(ip.frags) & 0x1fff != 0;
    if !later_fragment && (ip.proto == IPPROTO_TCP || ip.proto == IPPROTO_UDP) {
        // Source and destination port lead both headers.
        let ports: *const [u8; 4] = ptr_at(ctx, l4, SHORT).ok()?;
        // SAFETY: bounds-checked by ptr_at.
        let ports = unsafe { *ports };
        out.sport = u16::from_be_bytes([ports[0], ports[1]]);
        out.dport = u16::from_be_bytes([ports[2], ports[3]]);
    }
    Some(l4)
}
