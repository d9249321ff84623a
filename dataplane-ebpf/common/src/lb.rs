//! Service load balancing and the ingress routing mesh: services, backends,
//! Maglev tables and conntrack.
//!
//! A service is found by [`ServiceKey`]: the network (VNI) of the task
//! that sends, a VIP and port (east-west) or, for the routing mesh, VNI 0,
//! address `0.0.0.0` and the published port (any of the node's addresses).
//! A VIP therefore answers only tasks on its own network, and two networks
//! may use the same subnet and VIP without colliding. Its Maglev table (one inner array per service in
//! [`crate::maps::MAGLEV`]) maps `flow_hash % MAGLEV_SIZE` to a backend id;
//! [`crate::maps::BACKENDS`] maps the id to the backend's address. Tables
//! are rebuilt in a fresh inner array and swapped in whole, so a packet
//! never sees half a backend set.

/// Maglev table size: a prime well above 100 × the largest backend set.
pub const MAGLEV_SIZE: u32 = 16381;
/// Inner-array flags of Maglev tables: mmap-able, so userspace fills a
/// table with one copy instead of 16381 syscalls.
pub const MAGLEV_MAP_FLAGS: u32 = 1 << 10;

/// IPPROTO_TCP.
pub const PROTO_TCP: u8 = 6;
/// IPPROTO_UDP.
pub const PROTO_UDP: u8 = 17;

/// Key of [`crate::maps::SERVICES`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    /// Service VIP, network byte order; `0.0.0.0` for a published (mesh) port.
    pub ip: [u8; 4],
    /// Service or published port, network byte order; `0` on a VIP: every
    /// port without an entry of its own ([`ANY_PORT`]).
    pub port: [u8; 2],
    /// [`PROTO_TCP`] or [`PROTO_UDP`].
    pub proto: u8,
    /// Explicit padding; always zero.
    pub _pad: u8,
    /// VNI of the VIP's network, host order: only tasks sending on that
    /// network find the entry. [`MESH_VNI`] for a published port.
    pub vni: u32,
}
const _: () = assert!(core::mem::size_of::<ServiceKey>() == 12);

/// [`ServiceKey::vni`] of a published (mesh) port, and [`FlowKey::vni`] of
/// a mesh client's flow: the request came from outside every overlay.
pub const MESH_VNI: u32 = 0;

/// [`ServiceKey::port`] of a VIP entry that answers on every port (as
/// Swarm's VIPs do); its backends' port is [`ANY_PORT`] too, meaning the
/// flow keeps its own destination port.
pub const ANY_PORT: [u8; 2] = [0, 0];

/// Value of [`crate::maps::SERVICES`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// Id of the service's Maglev table (key of [`crate::maps::MAGLEV`]).
    pub id: u32,
    /// Backends taking new flows; 0 means new flows are refused (TCP
    /// reset, ICMP unreachable).
    pub active_backends: u32,
}
const _: () = assert!(core::mem::size_of::<Service>() == 8);

/// [`Backend::state`]: takes new flows (is in the Maglev table).
pub const BACKEND_ACTIVE: u32 = 1;
/// [`Backend::state`]: draining: keeps its established flows, gets no new ones.
pub const BACKEND_DRAINING: u32 = 2;

/// Value of [`crate::maps::BACKENDS`], keyed by backend id (`u32`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backend {
    /// Task address on its overlay network, network byte order.
    pub ip: [u8; 4],
    /// Target port, network byte order.
    pub port: [u8; 2],
    /// Explicit padding; always zero.
    pub _pad: [u8; 2],
    /// VNI of the network the task is reached on (host order).
    pub vni: u32,
    /// [`BACKEND_ACTIVE`] or [`BACKEND_DRAINING`].
    pub state: u32,
}
const _: () = assert!(core::mem::size_of::<Backend>() == 16);

/// A flow's 5-tuple and network, as seen in one direction; key of both
/// conntrack maps.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowKey {
    /// Source address, network byte order.
    pub src: [u8; 4],
    /// Destination address, network byte order.
    pub dst: [u8; 4],
    /// Source port, network byte order.
    pub sport: [u8; 2],
    /// Destination port, network byte order.
    pub dport: [u8; 2],
    /// IP protocol.
    pub proto: u8,
    /// Explicit padding; always zero.
    pub _pad: [u8; 3],
    /// VNI of the network the packet travels on (host order): the client's
    /// network in a conntrack key ([`MESH_VNI`] for a mesh client), the
    /// backend's in a reply key. Overlapping subnets of two networks keep
    /// their flows apart.
    pub vni: u32,
}
const _: () = assert!(core::mem::size_of::<FlowKey>() == 20);

/// TCP conntrack state: SYN seen, no answer yet.
pub const CT_SYN_SENT: u8 = 1;
/// TCP conntrack state: answered; also UDP once a reply was seen.
pub const CT_ESTABLISHED: u8 = 2;
/// TCP conntrack state: one side sent FIN (half-closed, e.g. CLOSE_WAIT):
/// the other side may keep sending for as long as it likes.
pub const CT_HALF_CLOSED: u8 = 3;
/// TCP conntrack state: both sides sent FIN, or a reset was seen.
pub const CT_CLOSING: u8 = 4;
/// UDP (or any non-TCP) flow.
pub const CT_DATAGRAM: u8 = 5;

/// Forward conntrack entry at the node that translated the flow; value of
/// [`crate::maps::CONNTRACK`], keyed by the flow as the client sent it
/// (with the client's network).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtEntry {
    /// Last packet in either direction, `bpf_ktime_get_ns` clock.
    pub last_seen_ns: u64,
    /// Backend id chosen for the flow.
    pub backend_id: u32,
    /// Backend address (kept so a draining backend's flows keep working).
    pub backend_ip: [u8; 4],
    /// Backend port, network byte order.
    pub backend_port: [u8; 2],
    /// One of the `CT_*` states.
    pub state: u8,
    /// `CT_FIN_*` bits: which sides have sent FIN.
    pub fins: u8,
    /// VNI the backend is reached on (host order).
    pub vni: u32,
}
const _: () = assert!(core::mem::size_of::<CtEntry>() == 24);

/// [`CtEntry::fins`]: the client sent FIN.
pub const CT_FIN_CLIENT: u8 = 1;
/// [`CtEntry::fins`]: the backend sent FIN.
pub const CT_FIN_BACKEND: u8 = 2;

/// [`ReplyEntry::kind`]: undo the translation (rewrite the source back to
/// the VIP or published address) — at the node that translated.
pub const REPLY_REV_NAT: u32 = 1;
/// [`ReplyEntry::kind`]: send the reply back through VXLAN to the node the
/// request came from (mesh traffic to a backend on another node).
pub const REPLY_RETURN_PATH: u32 = 2;

/// What to do with a reply; value of [`crate::maps::REPLIES`], keyed by the
/// flow as the backend sends it (backend → client).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyEntry {
    /// Last packet, `bpf_ktime_get_ns` clock.
    pub last_seen_ns: u64,
    /// [`REPLY_REV_NAT`] or [`REPLY_RETURN_PATH`].
    pub kind: u32,
    /// Rev NAT: the address the client sent to (VIP or node address).
    pub orig_ip: [u8; 4],
    /// Rev NAT: the port the client sent to, network byte order.
    pub orig_port: [u8; 2],
    /// Explicit padding; always zero.
    pub _pad: [u8; 2],
    /// Return path: underlay address of the node that translated.
    pub via_node: [u8; 4],
    /// Return path: VNI to send the reply on (host order).
    pub vni: u32,
    /// Rev NAT: [`FlowKey::vni`] of the forward (client → service) flow,
    /// so a reply finds its conntrack entry (host order).
    pub flow_vni: u32,
}
const _: () = assert!(core::mem::size_of::<ReplyEntry>() == 32);

/// Conntrack timeouts in seconds; index 0 of [`crate::maps::LB_CONFIG`].
/// Zero means "use the default" (the `DEFAULT_*` constants).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbConfig {
    /// TCP flow that has seen only a SYN.
    pub tcp_syn_s: u32,
    /// Established TCP flow, idle. IPVS cuts these after 900 s (moby#31208).
    pub tcp_established_s: u32,
    /// Half-closed TCP flow (one FIN, e.g. CLOSE_WAIT). IPVS: 60 s (moby#29655).
    pub tcp_half_closed_s: u32,
    /// Both FINs or a reset seen.
    pub tcp_closing_s: u32,
    /// UDP and other datagram flows, idle.
    pub udp_s: u32,
    /// Explicit padding; always zero.
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<LbConfig>() == 24);

/// Default SYN timeout.
pub const DEFAULT_TCP_SYN_S: u32 = 60;
/// Default idle timeout of an established TCP flow: 6 hours.
pub const DEFAULT_TCP_ESTABLISHED_S: u32 = 6 * 3600;
/// Default idle timeout of a half-closed TCP flow: as long as established.
pub const DEFAULT_TCP_HALF_CLOSED_S: u32 = 6 * 3600;
/// Default timeout once both sides closed.
pub const DEFAULT_TCP_CLOSING_S: u32 = 10;
/// Default idle timeout of a UDP flow.
pub const DEFAULT_UDP_S: u32 = 300;

impl LbConfig {
    /// The timeout for a flow in `state`, in seconds, defaults applied.
    #[inline(always)]
    pub fn timeout_s(&self, state: u8) -> u32 {
        let (set, default) = match state {
            CT_SYN_SENT => (self.tcp_syn_s, DEFAULT_TCP_SYN_S),
            CT_ESTABLISHED => (self.tcp_established_s, DEFAULT_TCP_ESTABLISHED_S),
            CT_HALF_CLOSED => (self.tcp_half_closed_s, DEFAULT_TCP_HALF_CLOSED_S),
            CT_CLOSING => (self.tcp_closing_s, DEFAULT_TCP_CLOSING_S),
            _ => (self.udp_s, DEFAULT_UDP_S),
        };
        if set == 0 { default } else { set }
    }

    /// Whether a flow last seen at `last_seen_ns` in `state` has timed out at
    /// `now_ns` (both on `bpf_ktime_get_ns`'s clock). An entry stamped after
    /// `now_ns` (another CPU raced ahead) is fresh, not ancient.
    #[inline(always)]
    pub fn expired(&self, state: u8, last_seen_ns: u64, now_ns: u64) -> bool {
        now_ns.saturating_sub(last_seen_ns) > u64::from(self.timeout_s(state)) * 1_000_000_000
    }
}

/// The hash that picks a flow's Maglev slot: `flow_hash(..) % MAGLEV_SIZE`.
/// Deterministic and shared with userspace, so every node picks the same
/// backend for the same flow and tests can compute the expected choice.
/// Addresses in network byte order, ports in host order.
#[inline(always)]
pub fn flow_hash(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, proto: u8) -> u32 {
    let mut h: u32 = 0x2545_f491 ^ u32::from(proto);
    for word in [
        u32::from_be_bytes(src),
        u32::from_be_bytes(dst),
        (u32::from(sport) << 16) | u32::from(dport),
    ] {
        let mut k = word.wrapping_mul(0xcc9e_2d51);
        k = k.rotate_left(15).wrapping_mul(0x1b87_3593);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod timeout_tests {
    //! The timeout arithmetic with a synthetic clock, so hours-old entries
    //! are checked on any machine (the kernel fixtures can only back-date
    //! entries by as long as the machine has been up).
    use super::*;

    const S: u64 = 1_000_000_000;
    /// A "now" far from zero, as on a machine up for days.
    const NOW: u64 = 10 * 24 * 3600 * S;

    fn kept(cfg: &LbConfig, state: u8, idle_s: u64) -> bool {
        !cfg.expired(state, NOW - idle_s * S, NOW)
    }

    #[test]
    fn defaults_outlast_the_ipvs_timeouts_swarm_users_hit() {
        let d = LbConfig::default();
        assert!(
            kept(&d, CT_ESTABLISHED, 1000),
            "idle 1000 s (IPVS cuts at 900)"
        );
        assert!(kept(&d, CT_ESTABLISHED, 5 * 3600), "idle 5 h");
        assert!(!kept(&d, CT_ESTABLISHED, 6 * 3600 + 1), "idle past 6 h");
        assert!(kept(&d, CT_HALF_CLOSED, 120), "CLOSE_WAIT 120 s (IPVS: 60)");
        assert!(!kept(&d, CT_SYN_SENT, 120), "SYN 120 s ago (60 s)");
        assert!(kept(&d, CT_SYN_SENT, 59), "SYN 59 s ago");
        assert!(!kept(&d, CT_CLOSING, 20), "closing 20 s (10 s)");
        assert!(!kept(&d, CT_DATAGRAM, 400), "UDP idle 400 s (300 s)");
        assert!(kept(&d, CT_DATAGRAM, 200), "UDP idle 200 s");
    }

    #[test]
    fn configured_timeouts_replace_defaults_and_zero_means_default() {
        let cfg = LbConfig {
            tcp_syn_s: 5,
            tcp_established_s: 0,
            tcp_half_closed_s: 5,
            tcp_closing_s: 5,
            udp_s: 5,
            _pad: 0,
        };
        assert!(kept(&cfg, CT_ESTABLISHED, 1000), "zero: the 6 h default");
        assert!(!kept(&cfg, CT_HALF_CLOSED, 10));
        assert!(!kept(&cfg, CT_DATAGRAM, 10));
        assert!(
            kept(&cfg, CT_DATAGRAM, 5),
            "exactly the timeout is not past it"
        );
    }

    #[test]
    fn an_entry_stamped_after_now_is_fresh() {
        let d = LbConfig::default();
        assert!(!d.expired(CT_CLOSING, NOW + S, NOW));
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY (all): `repr(C)`, integers and byte arrays only, explicit
    // padding, every bit pattern valid.
    unsafe impl aya::Pod for super::ServiceKey {}
    unsafe impl aya::Pod for super::Service {}
    unsafe impl aya::Pod for super::Backend {}
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::CtEntry {}
    unsafe impl aya::Pod for super::ReplyEntry {}
    unsafe impl aya::Pod for super::LbConfig {}
}
