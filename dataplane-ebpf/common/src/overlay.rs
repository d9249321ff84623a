//! Overlay (VXLAN) map types: node settings, networks, task interfaces and
//! the endpoint table that says where every overlay address lives.

/// VXLAN's IANA port, the default data-path port.
pub const VXLAN_PORT: u16 = 4789;
/// Bytes VXLAN adds in front of an inner Ethernet frame on an IPv4
/// underlay: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14).
pub const VXLAN_OVERHEAD: u32 = 50;
/// The VXLAN flags byte with the I bit (valid VNI) set, RFC 7348 §5.
pub const VXLAN_FLAG_VNI: u8 = 0x08;
/// Largest VNI: 24 bits.
pub const VNI_MAX: u32 = (1 << 24) - 1;

/// Bytes WireGuard adds around the VXLAN packet it carries on an IPv4
/// underlay: outer IPv4 (20) + UDP (8) + WireGuard data header (16) +
/// Poly1305 tag (16). Tasks of encrypted networks get an MTU this much
/// smaller again.
pub const WG_OVERHEAD: u32 = 60;
/// Default UDP port of shoal's WireGuard path (the swarm's other ports:
/// 2377 managers, 7946 gossip unused, 4789 VXLAN).
pub const WG_PORT: u16 = 51820;
/// [`Network::flags`]: the network is encrypted; its frames to other
/// nodes go only through WireGuard, and clear VXLAN for it is dropped.
pub const NETWORK_ENCRYPTED: u32 = 1;

/// [`NodeConfig::flags`]: the XDP fast path is on — `shoal_underlay_xdp`
/// unwraps VXLAN for a local task itself instead of passing it to TC.
pub const NODE_XDP_FAST_PATH: u32 = 1;

/// Node-wide settings; index 0 of [`crate::maps::NODE`]. Written by
/// `dp apply`, read by every overlay program. v2: `wg_ifindex`; v3:
/// `flags` and `underlay_mtu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeConfig {
    /// Ifindex of the underlay NIC (host order).
    pub underlay_ifindex: u32,
    /// This node's underlay IPv4 address, network byte order.
    pub underlay_ip: [u8; 4],
    /// VXLAN UDP port, network byte order.
    pub vxlan_port: [u8; 2],
    /// Explicit padding; always zero.
    pub _pad: [u8; 2],
    /// Ifindex of the WireGuard TAP device (`shoal-wg0`) frames of
    /// encrypted networks are redirected to (host order); 0: none, and
    /// such frames are dropped.
    pub wg_ifindex: u32,
    /// [`NODE_XDP_FAST_PATH`] or 0 (host order).
    pub flags: u32,
    /// The underlay NIC's MTU (host order): the XDP fast path leaves
    /// longer frames (an skb the stack aggregated, seen by generic XDP)
    /// to TC, which keeps their offload state.
    pub underlay_mtu: u32,
}
const _: () = assert!(core::mem::size_of::<NodeConfig>() == 24);

impl NodeConfig {
    /// Whether `shoal_underlay_xdp` should unwrap VXLAN for local tasks.
    #[inline(always)]
    pub fn xdp_fast_path(&self) -> bool {
        self.flags & NODE_XDP_FAST_PATH != 0
    }
}

/// An overlay network; value of [`crate::maps::NETWORKS`], keyed by VNI
/// (`u32`, host order). v2: `flags`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Network {
    /// Subnet address, network byte order.
    pub subnet: [u8; 4],
    /// Subnet mask, network byte order (precomputed from the prefix length).
    pub mask: [u8; 4],
    /// [`NETWORK_ENCRYPTED`] or 0 (host order).
    pub flags: u32,
}
const _: () = assert!(core::mem::size_of::<Network>() == 12);

impl Network {
    /// Whether the network's traffic between nodes must go through WireGuard.
    #[inline(always)]
    pub fn encrypted(&self) -> bool {
        self.flags & NETWORK_ENCRYPTED != 0
    }

    /// Whether `ip` (network byte order) lies inside this subnet.
    #[inline(always)]
    pub fn contains(&self, ip: [u8; 4]) -> bool {
        let mask = u32::from_be_bytes(self.mask);
        u32::from_be_bytes(ip) & mask == u32::from_be_bytes(self.subnet) & mask
    }
}

/// A task's interface as seen from its host-side veth; value of
/// [`crate::maps::TASK_IFACES`], keyed by the host-side ifindex (`u32`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskIface {
    /// VNI of the network this interface is on (host order).
    pub vni: u32,
    /// The task's address on it, network byte order.
    pub ip: [u8; 4],
    /// The task-side interface's MAC.
    pub mac: [u8; 6],
    /// The host-side veth's MAC: the answer to every ARP the task asks.
    pub host_mac: [u8; 6],
}
const _: () = assert!(core::mem::size_of::<TaskIface>() == 20);

/// Key of [`crate::maps::ENDPOINTS`]: an overlay address within a network.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointKey {
    /// VNI (host order).
    pub vni: u32,
    /// Overlay IPv4 address, network byte order.
    pub ip: [u8; 4],
}
const _: () = assert!(core::mem::size_of::<EndpointKey>() == 8);

/// [`Endpoint::kind`]: a task on this node, reached through its veth.
pub const ENDPOINT_LOCAL: u32 = 1;
/// [`Endpoint::kind`]: a task on another node, reached through VXLAN.
pub const ENDPOINT_REMOTE: u32 = 2;

/// Where an overlay address lives; value of [`crate::maps::ENDPOINTS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// [`ENDPOINT_LOCAL`] or [`ENDPOINT_REMOTE`].
    pub kind: u32,
    /// Local: ifindex of the task's host-side veth (host order); remote: 0.
    pub ifindex: u32,
    /// Remote: the node's underlay IPv4 address, network byte order; local: 0.
    pub node_ip: [u8; 4],
    /// The endpoint's own MAC (inner destination MAC).
    pub mac: [u8; 6],
    /// Local: the host-side veth's MAC (source MAC on delivery); remote: 0.
    pub host_mac: [u8; 6],
}
const _: () = assert!(core::mem::size_of::<Endpoint>() == 24);

/// [`Peer::kind`]: a node of the swarm.
pub const PEER_NODE: u32 = 1;

/// A node VXLAN is accepted from; value of [`crate::maps::PEERS`], keyed by
/// its underlay IPv4 address (`[u8; 4]`, network byte order).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Peer {
    /// [`PEER_NODE`] (host order).
    pub kind: u32,
}
const _: () = assert!(core::mem::size_of::<Peer>() == 4);

/// The outer UDP source port for a flow: RFC 7348 asks for a hash of the
/// inner headers so the underlay can spread flows (ECMP). Deterministic, so
/// userspace can compute the same value (fixtures, `dp` tools). Addresses
/// in network byte order, ports in host order. Range 49152-65535.
#[inline(always)]
pub fn vxlan_source_port(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, proto: u8) -> u16 {
    let mut h = u32::from_be_bytes(src).wrapping_mul(0x9e37_79b1);
    h ^= u32::from_be_bytes(dst).wrapping_mul(0x85eb_ca77);
    h ^= ((u32::from(sport) << 16) | u32::from(dport)).wrapping_mul(0xc2b2_ae3d);
    h ^= u32::from(proto);
    h ^= h >> 16;
    h = h.wrapping_mul(0x27d4_eb2f);
    h ^= h >> 15;
    0xc000 | (h as u16 & 0x3fff)
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY (all of them): `repr(C)`, integers and byte arrays only, explicit
    // padding, every bit pattern valid.
    unsafe impl aya::Pod for super::NodeConfig {}
    unsafe impl aya::Pod for super::Network {}
    unsafe impl aya::Pod for super::TaskIface {}
    unsafe impl aya::Pod for super::EndpointKey {}
    unsafe impl aya::Pod for super::Endpoint {}
    unsafe impl aya::Pod for super::Peer {}
}
