//! The overlay's maps (names and capacities: `shoal_common::maps`). Values
//! are copied out of the maps before use, so a concurrent userspace update
//! never shows a packet half of an old and half of a new entry.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap},
};
use shoal_common::{
    maps,
    overlay::{Endpoint, EndpointKey, Network, NodeConfig, Peer, TaskIface},
};

/// `u32 0` → node settings.
#[map(name = "shoal_node_v3")]
static SHOAL_NODE_V3: Array<NodeConfig> = Array::pinned(1, 0);

/// `u32 VNI` → network.
#[map(name = "shoal_net_v2")]
static SHOAL_NET_V2: HashMap<u32, Network> = HashMap::pinned(maps::NETWORKS_CAPACITY, 0);

/// `u32 host-side ifindex` → task interface.
#[map(name = "shoal_ifc_v1")]
static SHOAL_IFC_V1: HashMap<u32, TaskIface> = HashMap::pinned(maps::TASK_IFACES_CAPACITY, 0);

/// `(VNI, overlay IP)` → endpoint.
#[map(name = "shoal_ep_v1")]
static SHOAL_EP_V1: HashMap<EndpointKey, Endpoint> = HashMap::pinned(maps::ENDPOINTS_CAPACITY, 0);

/// `[u8; 4]` underlay IPv4 (network order) → peer node.
#[map(name = "shoal_peers_v1")]
static SHOAL_PEERS_V1: HashMap<[u8; 4], Peer> = HashMap::pinned(maps::PEERS_CAPACITY, 0);

/// The node's settings, if `dp apply` has written them.
#[inline(always)]
pub fn node_config() -> Option<NodeConfig> {
    SHOAL_NODE_V3
        .get(0)
        .copied()
        .filter(|c| c.underlay_ifindex != 0)
}

/// The network with this VNI.
#[inline(always)]
pub fn network(vni: u32) -> Option<Network> {
    // SAFETY: the value is copied out immediately.
    unsafe { SHOAL_NET_V2.get(vni).copied() }
}

/// The task interface behind host-side veth `ifindex`.
#[inline(always)]
pub fn task_iface(ifindex: u32) -> Option<TaskIface> {
    // SAFETY: the value is copied out immediately.
    unsafe { SHOAL_IFC_V1.get(ifindex).copied() }
}

/// Where overlay address `ip` (network order) of network `vni` lives.
#[inline(always)]
pub fn endpoint(vni: u32, ip: [u8; 4]) -> Option<Endpoint> {
    // SAFETY: the value is copied out immediately.
    unsafe { SHOAL_EP_V1.get(EndpointKey { vni, ip }).copied() }
}

/// Whether underlay address `ip` (network order) is one of the swarm's
/// nodes, i.e. VXLAN from it may be unwrapped.
#[inline(always)]
pub fn is_peer(ip: [u8; 4]) -> bool {
    // SAFETY: only the presence of the value is read.
    unsafe { SHOAL_PEERS_V1.get(ip).is_some() }
}
