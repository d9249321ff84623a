//! Map names and capacities: the one place they are defined. Each line says
//! key → value and who writes it. A layout change gets a new `_vN` name so
//! old and new pins can coexist during an upgrade. Kernel map names are at
//! most 15 bytes.

use crate::stats::Stat;

/// `u32 slot` ([`Stat::slot`]) → per-CPU [`crate::Counter`]; written by every
/// program, read by `shoal dp stats`.
pub const STATS: &str = "shoal_stats_v1";
/// Slots in [`STATS`]: fixed with room to grow, so adding a counter or a
/// drop reason keeps the pinned map's layout (and its name).
pub const STATS_CAPACITY: u32 = 128;
const _: () = assert!(Stat::SLOTS <= STATS_CAPACITY);

/// `u32 0` → [`crate::overlay::NodeConfig`]; written by `dp apply`. v2:
/// the WireGuard device's ifindex; v3: flags (XDP fast path) and the
/// underlay MTU.
pub const NODE: &str = "shoal_node_v3";
/// `u32 VNI` → [`crate::overlay::Network`]; written by `dp apply`. v2: the
/// network's flags (encrypted).
pub const NETWORKS: &str = "shoal_net_v2";
/// Networks a node can hold.
pub const NETWORKS_CAPACITY: u32 = 4096;
/// `u32 host-side ifindex` → [`crate::overlay::TaskIface`]; written by `dp apply`.
pub const TASK_IFACES: &str = "shoal_ifc_v1";
/// Task interfaces a node can hold.
pub const TASK_IFACES_CAPACITY: u32 = 16384;
/// [`crate::overlay::EndpointKey`] → [`crate::overlay::Endpoint`]: every
/// overlay address this node can reach, local or remote; written by `dp apply`.
pub const ENDPOINTS: &str = "shoal_ep_v1";
/// Endpoints (local and remote) a node can hold.
pub const ENDPOINTS_CAPACITY: u32 = 262_144;
/// `[u8; 4]` underlay IPv4 (network order) → [`crate::overlay::Peer`]: the
/// swarm's other nodes, the only sources VXLAN is accepted from; written by
/// `dp apply` from the desired state's remote endpoints and peers.
pub const PEERS: &str = "shoal_peers_v1";
/// Peer nodes a node can hold.
pub const PEERS_CAPACITY: u32 = 16384;

/// [`crate::lb::ServiceKey`] (VNI, VIP, port, protocol) → [`crate::lb::Service`]:
/// VIPs and published ports; written by `dp apply`. v2: the key carries the
/// VIP's network.
pub const SERVICES: &str = "shoal_svc_v2";
/// Services (VIP and mesh entries) a node can hold.
pub const SERVICES_CAPACITY: u32 = 65_536;
/// `u32 service id` → inner array `u32 slot` → `u32 backend id`
/// ([`crate::lb::MAGLEV_SIZE`] slots); written by `dp apply`, which swaps
/// whole inner arrays.
pub const MAGLEV: &str = "shoal_maglev_v1";
/// `u32 backend id` → [`crate::lb::Backend`]; written by `dp apply`.
pub const BACKENDS: &str = "shoal_be_v1";
/// Backends a node can hold.
pub const BACKENDS_CAPACITY: u32 = 262_144;
/// [`crate::lb::FlowKey`] (client → service, client's VNI) →
/// [`crate::lb::CtEntry`]: LRU; written by the programs, read by `dp
/// conntrack`. v2: the key carries the VNI.
pub const CONNTRACK: &str = "shoal_ct_v2";
/// Flows tracked per node.
pub const CONNTRACK_CAPACITY: u32 = 1 << 18;
/// [`crate::lb::FlowKey`] (backend → client, backend's VNI) →
/// [`crate::lb::ReplyEntry`]: LRU; written by the programs. v2: the key
/// carries the VNI, the value the forward flow's VNI.
pub const REPLIES: &str = "shoal_rep_v2";
/// `[u8; 4]` VIP (network order) → `u32` how many networks have a service
/// entry on it: tells a task's packet to another network's VIP (dropped as
/// `not-a-member`) from one to an unknown address; written by `dp apply`.
pub const VIPS: &str = "shoal_vips_v1";
/// `u32 0` → [`crate::lb::LbConfig`]: conntrack timeouts; written by `dp apply`.
pub const LB_CONFIG: &str = "shoal_lbcfg_v1";

/// `u32 VNI` → `u32` [`crate::egress::EGRESS_ALLOWED`]: networks whose tasks
/// may reach outside the cluster (absent: `--internal`); written by `dp apply`.
pub const EGRESS: &str = "shoal_egress_v1";
/// [`crate::lb::FlowKey`] (task → outside, task's VNI) →
/// [`crate::egress::SnatEntry`]: LRU; written by the programs.
pub const SNAT: &str = "shoal_snat_v1";
/// [`crate::lb::FlowKey`] (outside → node address and NAT port, VNI 0) →
/// [`crate::egress::SnatRevEntry`]: LRU; written by the programs.
pub const SNAT_REV: &str = "shoal_snatrev_v1";
/// Egress flows tracked per node.
pub const SNAT_CAPACITY: u32 = 1 << 17;

/// Ring buffer of [`crate::monitor::MonitorEvent`]s: written by every
/// program while a listener's flags are on, read by `shoal dp monitor`.
pub const MONITOR_EVENTS: &str = "shoal_mon_v1";
/// Bytes in [`MONITOR_EVENTS`] (a power of two, a multiple of the page
/// size): room for ~4,600 events a slow reader has not taken yet.
pub const MONITOR_EVENTS_BYTES: u32 = 256 * 1024;
/// `u32 0` → [`crate::monitor::MonitorConfig`]: what the listener wants;
/// written by `dp monitor`, cleared by the programs when its lease ran out.
pub const MONITOR_CONFIG: &str = "shoal_moncfg_v1";

/// Program names as the loader finds them in the object file.
pub mod programs {
    /// XDP on the underlay NIC: parse, classify, count.
    pub const UNDERLAY_XDP: &str = "shoal_underlay_xdp";
    /// The same logic at TC ingress (TCX), for NICs where XDP does not pay.
    pub const UNDERLAY_TC: &str = "shoal_underlay_tc";
    /// TC (TCX) ingress on a task's host-side veth: ARP answers, local
    /// delivery, VXLAN encapsulation.
    pub const TASK_TC: &str = "shoal_task_tc";
    /// TC (TCX) ingress on the WireGuard TAP device (`shoal-wg0`): the
    /// decrypted VXLAN frames userspace writes back, unwrapped like the
    /// underlay's but accepted for encrypted networks.
    pub const WG_TC: &str = "shoal_wg_tc";
}
