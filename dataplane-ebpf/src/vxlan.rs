//! VXLAN (RFC 7348): wrapping a task's frame towards the node that hosts
//! its destination, and unwrapping frames for local tasks. Standard frames
//! on the configured UDP port, so a kernel vxlan device can be a peer.

use crate::proto::{ETH_P_IPV4, IPPROTO_UDP};
use aya_ebpf::{
    bindings::{
        BPF_ADJ_ROOM_ENCAP_L2_SHIFT, BPF_F_ADJ_ROOM_ENCAP_L2_ETH, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4,
        BPF_F_ADJ_ROOM_ENCAP_L4_UDP, BPF_F_ADJ_ROOM_FIXED_GSO, bpf_adj_room_mode::BPF_ADJ_ROOM_MAC,
    },
    helpers::{bpf_redirect_neigh, bpf_redirect_peer},
    programs::TcContext,
};
use network_types::{eth::EthHdr, ip::Ipv4Hdr, udp::UdpHdr};
use shoal_common::{
    DropReason, Stat,
    overlay::{ENDPOINT_LOCAL, Endpoint, NodeConfig, VXLAN_FLAG_VNI, vxlan_source_port},
};

use crate::{
    csum, lb,
    mem::{ptr_at, ptr_at_mut},
    overlay_maps,
    parse::{Ipv4Packet, L4, parse_ipv4},
    stats::count,
    verdict::{Action, redirected},
};

const VXLAN_HDR_LEN: usize = 8;
/// Outer IPv4: version 4, IHL 5.
const IPV4_VIHL: u8 = 0x45;
/// Outer IPv4 flags/offset: DF. The task MTU is derived so every frame fits
/// the underlay; ID 0 is then allowed (RFC 6864) and keeps output exact.
const IPV4_DF: [u8; 2] = [0x40, 0x00];
const OUTER_TTL: u8 = 64;

/// What VXLAN puts between the outer Ethernet header and the inner packet.
#[repr(C)]
struct EncapHeaders {
    ip: [u8; 20],
    udp: [u8; 8],
    vxlan: [u8; 8],
    inner_eth: [u8; 14],
}
const _: () = assert!(core::mem::size_of::<EncapHeaders>() == 50);

/// Where and how a frame is tunnelled.
#[derive(Clone, Copy)]
pub struct Tunnel {
    /// VNI of the network.
    pub vni: u32,
    /// Underlay address of the receiving node.
    pub node_ip: [u8; 4],
    /// Inner source MAC.
    pub src_mac: [u8; 6],
    /// Inner destination MAC.
    pub dst_mac: [u8; 6],
}

impl Tunnel {
    /// To a remote endpoint, from a task interface.
    #[inline(always)]
    pub fn to_endpoint(vni: u32, ep: &Endpoint, src_mac: [u8; 6]) -> Tunnel {
        Tunnel {
            vni,
            node_ip: ep.node_ip,
            src_mac,
            dst_mac: ep.mac,
        }
    }
}

/// A MAC for frames the node itself puts on the overlay (mesh traffic):
/// locally administered, derived from the node's underlay address.
#[inline(always)]
pub fn node_mac(cfg: &NodeConfig) -> [u8; 6] {
    let ip = cfg.underlay_ip;
    [0x02, 0x53, ip[0], ip[1], ip[2], ip[3]]
}

/// Wrap the frame in VXLAN to `tunnel.node_ip` and hand it to the underlay
/// NIC; the kernel's neighbour table fills in the outer MAC addresses.
#[inline(always)]
pub fn encap(
    ctx: &TcContext,
    cfg: &NodeConfig,
    tunnel: &Tunnel,
    inner: &Ipv4Packet,
) -> Result<Action, DropReason> {
    let frame_len = ctx.len();
    let headers = encap_headers(cfg, tunnel, inner, frame_len);
    let flags = u64::from(
        BPF_F_ADJ_ROOM_FIXED_GSO
            | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4
            | BPF_F_ADJ_ROOM_ENCAP_L4_UDP
            | BPF_F_ADJ_ROOM_ENCAP_L2_ETH,
    ) | ((EthHdr::LEN as u64) << BPF_ADJ_ROOM_ENCAP_L2_SHIFT);
    ctx.adjust_room(
        core::mem::size_of::<EncapHeaders>() as i32,
        BPF_ADJ_ROOM_MAC,
        flags,
    )
    .map_err(|_| DropReason::EncapFailed)?;
    ctx.store(EthHdr::LEN, &headers, 0)
        .map_err(|_| DropReason::EncapFailed)?;
    // SAFETY: plain helper call; a null parameter block asks the kernel to
    // route on the outer destination and resolve its neighbour.
    let rc = unsafe { bpf_redirect_neigh(cfg.underlay_ifindex, core::ptr::null_mut(), 0, 0) };
    redirected(rc, DropReason::EncapFailed)?;
    count(Stat::Encap, frame_len);
    Ok(Action::Redirect)
}

#[inline(always)]
fn encap_headers(
    cfg: &NodeConfig,
    tunnel: &Tunnel,
    inner: &Ipv4Packet,
    frame_len: u32,
) -> EncapHeaders {
    let (sport, dport) = match inner.l4 {
        L4::Tcp { sport, dport } | L4::Udp { sport, dport } => (sport, dport),
        _ => (0, 0),
    };
    let udp_len = (UdpHdr::LEN + VXLAN_HDR_LEN) as u32 + frame_len;
    let ip_len = (Ipv4Hdr::LEN as u32 + udp_len) as u16;
    let mut ip = [0u8; 20];
    ip[0] = IPV4_VIHL;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[6..8].copy_from_slice(&IPV4_DF);
    ip[8] = OUTER_TTL;
    ip[9] = IPPROTO_UDP;
    ip[12..16].copy_from_slice(&cfg.underlay_ip);
    ip[16..20].copy_from_slice(&tunnel.node_ip);
    let check = csum::ipv4_header(&ip);
    ip[10..12].copy_from_slice(&check);

    let mut udp = [0u8; 8];
    let src_port = vxlan_source_port(inner.src, inner.dst, sport, dport, inner.proto);
    udp[0..2].copy_from_slice(&src_port.to_be_bytes());
    udp[2..4].copy_from_slice(&cfg.vxlan_port);
    udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    // UDP checksum 0: allowed for VXLAN over IPv4 (RFC 7348 §5).

    let vni = tunnel.vni.to_be_bytes();
    let vxlan = [VXLAN_FLAG_VNI, 0, 0, 0, vni[1], vni[2], vni[3], 0];

    let mut inner_eth = [0u8; 14];
    inner_eth[0..6].copy_from_slice(&tunnel.dst_mac);
    inner_eth[6..12].copy_from_slice(&tunnel.src_mac);
    inner_eth[12..14].copy_from_slice(&ETH_P_IPV4.to_be_bytes());
    EncapHeaders {
        ip,
        udp,
        vxlan,
        inner_eth,
    }
}

/// Unwrap a VXLAN frame addressed to this node (`outer`: its parsed outer
/// IPv4/UDP) and deliver the inner packet: to the local task it is for, or
/// — a mesh reply coming back to the node that translated it — out of the
/// underlay to the client.
#[inline(always)]
pub fn try_decap(
    ctx: &TcContext,
    cfg: &NodeConfig,
    outer: &Ipv4Packet,
) -> Result<Action, DropReason> {
    let vxlan_off = outer.l4_off + UdpHdr::LEN;
    let vxlan: *const [u8; VXLAN_HDR_LEN] = ptr_at(ctx, vxlan_off, DropReason::MalformedVxlan)?;
    // SAFETY: bounds-checked by ptr_at.
    let vxlan = unsafe { *vxlan };
    if vxlan[0] & VXLAN_FLAG_VNI == 0 {
        return Err(DropReason::MalformedVxlan);
    }
    let vni = u32::from_be_bytes([0, vxlan[4], vxlan[5], vxlan[6]]);
    overlay_maps::network(vni).ok_or(DropReason::UnknownVni)?;
    let inner_eth_off = vxlan_off + VXLAN_HDR_LEN;
    let inner_eth: *const EthHdr = ptr_at(ctx, inner_eth_off, DropReason::MalformedVxlan)?;
    // SAFETY: bounds-checked by ptr_at.
    if u16::from_be(unsafe { (*inner_eth).ether_type }) != ETH_P_IPV4 {
        return Err(DropReason::UnsupportedL3);
    }
    let inner = parse_ipv4(ctx, inner_eth_off + EthHdr::LEN)?;
    let local = overlay_maps::endpoint(vni, inner.dst).filter(|ep| ep.kind == ENDPOINT_LOCAL);
    if local.is_none() && !lb::is_reply(ctx, &inner) {
        return Err(DropReason::UnknownEndpoint);
    }
    if local.is_some() && overlay_maps::endpoint(vni, inner.src).is_none() {
        // A client from outside the overlay, sent here by the mesh on another
        // node: its replies must go back through that node.
        lb::remember_return_path(&inner, outer.src, vni);
    }
    // Everything between the outer Ethernet header and the inner IPv4
    // header goes: outer IPv4 (+options), UDP, VXLAN, inner Ethernet.
    let shrink = inner_eth_off as i32;
    ctx.adjust_room(
        -shrink,
        BPF_ADJ_ROOM_MAC,
        u64::from(BPF_F_ADJ_ROOM_FIXED_GSO),
    )
    .map_err(|_| DropReason::DecapFailed)?;
    let ip = parse_ipv4(ctx, EthHdr::LEN)?;
    let action = match local {
        Some(ep) => deliver_local(ctx, &ep, &ip, DropReason::DecapFailed)?,
        None => match lb::try_reply(ctx, &ip)? {
            Some(lb::Reply::Translated) => to_underlay(cfg)?,
            _ => return Err(DropReason::UnknownEndpoint),
        },
    };
    count(Stat::Decap, ctx.len());
    Ok(action)
}

/// Send a packet whose destination is on the underlay (a mesh client) out
/// of the underlay NIC; the kernel resolves the next hop.
#[inline(always)]
pub fn to_underlay(cfg: &NodeConfig) -> Result<Action, DropReason> {
    // SAFETY: plain helper call; null parameters: route on the destination.
    let rc = unsafe { bpf_redirect_neigh(cfg.underlay_ifindex, core::ptr::null_mut(), 0, 0) };
    redirected(rc, DropReason::NatFailed)?;
    Ok(Action::Redirect)
}

/// Deliver to local task `ep`, translating a service reply back first.
#[inline(always)]
pub fn deliver_local(
    ctx: &TcContext,
    ep: &Endpoint,
    ip: &Ipv4Packet,
    failed: DropReason,
) -> Result<Action, DropReason> {
    lb::try_reply(ctx, ip)?;
    deliver(ctx, ep, failed)
}

/// Address the frame to local task `ep` and put it straight into the task's
/// namespace (ingress of its interface).
#[inline(always)]
pub fn deliver(ctx: &TcContext, ep: &Endpoint, failed: DropReason) -> Result<Action, DropReason> {
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
