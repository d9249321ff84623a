//! VXLAN (RFC 7348): wrapping a frame towards the node that hosts its
//! destination, and unwrapping frames addressed to this node. Standard
//! frames on the configured UDP port, so a kernel vxlan device can be a
//! peer. Only the encapsulation lives here: where a frame goes is decided
//! by `task`, `underlay` and `mesh`.

use crate::proto::{ETH_P_IPV4, IPPROTO_UDP};
use aya_ebpf::{
    bindings::{
        BPF_ADJ_ROOM_ENCAP_L2_SHIFT, BPF_F_ADJ_ROOM_ENCAP_L2_ETH, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4,
        BPF_F_ADJ_ROOM_ENCAP_L4_UDP, BPF_F_ADJ_ROOM_FIXED_GSO, bpf_adj_room_mode::BPF_ADJ_ROOM_MAC,
    },
    helpers::{bpf_redirect, bpf_redirect_neigh},
    programs::TcContext,
};
use network_types::{eth::EthHdr, ip::Ipv4Hdr, udp::UdpHdr};
use shoal_common::{
    DropReason, Stat,
    overlay::{Endpoint, NodeConfig, VXLAN_FLAG_VNI, vxlan_source_port},
};

use crate::{
    csum,
    mem::{Packet, ptr_at},
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
/// NIC; the kernel's neighbour table fills in the outer MAC addresses. A
/// frame of an encrypted network goes to the WireGuard TAP device instead
/// (userspace encrypts it to the node): without that device it is
/// dropped, never sent in clear.
#[inline(always)]
pub fn encap(
    ctx: &TcContext,
    cfg: &NodeConfig,
    tunnel: &Tunnel,
    inner: &Ipv4Packet,
) -> Result<Action, DropReason> {
    let encrypted = overlay_maps::network(tunnel.vni).is_some_and(|n| n.encrypted());
    if encrypted && cfg.wg_ifindex == 0 {
        return Err(DropReason::NoWgDevice);
    }
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
    if encrypted {
        // Egress of a TAP device is what its reader (the WireGuard worker)
        // reads; the outer Ethernet header is ignored there. If the device
        // is gone by now, the kernel drops the frame.
        // SAFETY: plain helper call.
        let rc = unsafe { bpf_redirect(cfg.wg_ifindex, 0) };
        redirected(rc, DropReason::NoWgDevice)?;
        count(Stat::WgEncap, frame_len);
        return Ok(Action::Redirect);
    }
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
    // All fragments of a datagram take one path: none but the first has ports.
    let (sport, dport) = match inner.l4 {
        L4::Tcp { sport, dport } | L4::Udp { sport, dport } if !inner.fragment => (sport, dport),
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

/// The inner packet of a VXLAN frame addressed to this node (`outer`: its
/// parsed outer IPv4/UDP), checked but not yet unwrapped: the VXLAN header,
/// a known VNI, an inner Ethernet header carrying IPv4, and the inner IPv4
/// (and L4) headers. Returns the VNI and the inner packet as it lies now.
/// `via_wg`: the frame came out of WireGuard; a frame that did not is
/// refused for an encrypted network.
#[inline(always)]
pub fn inner_of<P: Packet>(
    ctx: &P,
    outer: &Ipv4Packet,
    via_wg: bool,
) -> Result<(u32, Ipv4Packet), DropReason> {
    let vxlan_off = outer.l4_off + UdpHdr::LEN;
    let vxlan: *const [u8; VXLAN_HDR_LEN] = ptr_at(ctx, vxlan_off, DropReason::MalformedVxlan)?;
    // SAFETY: bounds-checked by ptr_at.
    let vxlan = unsafe { *vxlan };
    if vxlan[0] & VXLAN_FLAG_VNI == 0 {
        return Err(DropReason::MalformedVxlan);
    }
    let vni = u32::from_be_bytes([0, vxlan[4], vxlan[5], vxlan[6]]);
    let network = overlay_maps::network(vni).ok_or(DropReason::UnknownVni)?;
    if network.encrypted() && !via_wg {
        return Err(DropReason::ClearOnEncrypted);
    }
    let inner_eth_off = vxlan_off + VXLAN_HDR_LEN;
    let inner_eth: *const EthHdr = ptr_at(ctx, inner_eth_off, DropReason::MalformedVxlan)?;
    // SAFETY: bounds-checked by ptr_at.
    if u16::from_be(unsafe { (*inner_eth).ether_type }) != ETH_P_IPV4 {
        return Err(DropReason::UnsupportedL3);
    }
    Ok((vni, parse_ipv4(ctx, inner_eth_off + EthHdr::LEN)?))
}

/// Unwrap the frame whose inner packet [`inner_of`] found at `inner`:
/// everything between the outer Ethernet header and the inner IPv4 header
/// goes (outer IPv4 with options, UDP, VXLAN, inner Ethernet). The caller
/// re-parses the packet, whose offsets all changed.
#[inline(always)]
pub fn decap(ctx: &TcContext, inner: &Ipv4Packet) -> Result<(), DropReason> {
    let shrink = (inner.l3_off - EthHdr::LEN) as i32;
    ctx.adjust_room(
        -shrink,
        BPF_ADJ_ROOM_MAC,
        u64::from(BPF_F_ADJ_ROOM_FIXED_GSO),
    )
    .map_err(|_| DropReason::DecapFailed)
}
