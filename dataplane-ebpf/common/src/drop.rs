//! Why a packet was dropped. One shared code space for every program, so a
//! counter slot or a monitor event means the same thing everywhere.

/// The reason a program dropped a packet. The discriminant is the wire value
/// used in counters and events; never reuse a retired value.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Fewer than 14 bytes: no complete Ethernet header.
    TruncatedEthernet = 1,
    /// The IPv4 header (20 bytes, or IHL × 4 with options) is cut short, or
    /// the IPv4 total length runs past the end of the frame.
    TruncatedIpv4 = 2,
    /// IPv4 header fields that cannot be right: version ≠ 4, IHL < 5, or a
    /// total length smaller than the header itself.
    MalformedIpv4 = 3,
    /// The TCP, UDP or ICMP header is cut short.
    TruncatedL4 = 4,
    /// A TCP data offset below 5 words or past the IP payload, or a UDP
    /// length below 8 bytes or past the IP payload.
    MalformedL4 = 5,
    /// `bpf_skb_pull_data` could not make the headers linear (TC only).
    PullFailed = 6,
    /// A VXLAN frame for a VNI this node has no network for.
    UnknownVni = 7,
    /// An overlay destination this node has no endpoint for (in that VNI).
    UnknownEndpoint = 8,
    /// A VXLAN frame without the I flag, or cut inside the VXLAN header or
    /// the inner Ethernet header.
    MalformedVxlan = 9,
    /// A packet on a task interface the data plane has no record of.
    NoTaskIface = 10,
    /// A task sent IPv4 from an address that is not its own.
    SpoofedSource = 11,
    /// Neither IPv4 nor ARP (e.g. IPv6) on an overlay path, which is IPv4-only.
    UnsupportedL3 = 12,
    /// An ARP packet the responder does not answer: not an Ethernet/IPv4
    /// request, or asking for an address outside the task's subnet.
    ArpNotAnswered = 13,
    /// Growing the packet for VXLAN or writing the outer headers failed.
    EncapFailed = 14,
    /// Shrinking the packet after VXLAN or rewriting its headers failed.
    DecapFailed = 15,
    /// Overlay traffic arrived before `dp apply` wrote the node's settings.
    NoNodeConfig = 16,
    /// A new flow to a service with no active backend (TCP gets a reset).
    NoBackend = 17,
    /// Rewriting addresses/ports or their checksums failed.
    NatFailed = 18,
    /// A backend's Maglev slot pointed at a backend that no longer exists.
    StaleBackend = 19,
    /// Building the TCP reset for a refused flow failed.
    RejectFailed = 20,
    /// A non-first fragment to a VIP: it carries no ports, so it cannot be
    /// matched to its datagram's flow and backend.
    FragmentToVip = 21,
    /// A VXLAN frame whose outer source is not one of the swarm's nodes
    /// (not in the peers table): forged or stray, never unwrapped.
    UnknownPeer = 22,
    /// A task sent to the VIP of a service on a network the task is not
    /// attached to: VIPs answer only their own network's tasks.
    NotAMember = 23,
    /// A task on an `--internal` network sent to an address outside the
    /// cluster: such networks have no egress.
    NoEgress = 24,
    /// No free NAT port for a new egress flow to this remote address and
    /// port (every probed port is held by a live flow).
    SnatNoPort = 25,
    /// A packet of an encrypted network for another node while this node
    /// has no WireGuard device (`shoal-wg0`) in its settings: never sent
    /// in clear instead.
    NoWgDevice = 26,
    /// A clear (not WireGuard-protected) VXLAN frame on the underlay for a
    /// network that is encrypted: forged or from a misconfigured node.
    ClearOnEncrypted = 27,
}

impl DropReason {
    /// Every reason, in code order. Userspace walks this to print counters.
    pub const ALL: [DropReason; 27] = [
        DropReason::TruncatedEthernet,
        DropReason::TruncatedIpv4,
        DropReason::MalformedIpv4,
        DropReason::TruncatedL4,
        DropReason::MalformedL4,
        DropReason::PullFailed,
        DropReason::UnknownVni,
        DropReason::UnknownEndpoint,
        DropReason::MalformedVxlan,
        DropReason::NoTaskIface,
        DropReason::SpoofedSource,
        DropReason::UnsupportedL3,
        DropReason::ArpNotAnswered,
        DropReason::EncapFailed,
        DropReason::DecapFailed,
        DropReason::NoNodeConfig,
        DropReason::NoBackend,
        DropReason::NatFailed,
        DropReason::StaleBackend,
        DropReason::RejectFailed,
        DropReason::FragmentToVip,
        DropReason::UnknownPeer,
        DropReason::NotAMember,
        DropReason::NoEgress,
        DropReason::SnatNoPort,
        DropReason::NoWgDevice,
        DropReason::ClearOnEncrypted,
    ];

    /// The largest code in use; counter tables reserve a slot up to it.
    pub const MAX_CODE: u32 = 27;

    /// The stable, kebab-case name shown by `shoal dp stats`.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::TruncatedEthernet => "truncated-ethernet",
            DropReason::TruncatedIpv4 => "truncated-ipv4",
            DropReason::MalformedIpv4 => "malformed-ipv4",
            DropReason::TruncatedL4 => "truncated-l4",
            DropReason::MalformedL4 => "malformed-l4",
            DropReason::PullFailed => "pull-failed",
            DropReason::UnknownVni => "unknown-vni",
            DropReason::UnknownEndpoint => "unknown-endpoint",
            DropReason::MalformedVxlan => "malformed-vxlan",
            DropReason::NoTaskIface => "no-task-iface",
            DropReason::SpoofedSource => "spoofed-source",
            DropReason::UnsupportedL3 => "unsupported-l3",
            DropReason::ArpNotAnswered => "arp-not-answered",
            DropReason::EncapFailed => "encap-failed",
            DropReason::DecapFailed => "decap-failed",
            DropReason::NoNodeConfig => "no-node-config",
            DropReason::NoBackend => "no-backend",
            DropReason::NatFailed => "nat-failed",
            DropReason::StaleBackend => "stale-backend",
            DropReason::RejectFailed => "reject-failed",
            DropReason::FragmentToVip => "fragment-to-vip",
            DropReason::UnknownPeer => "unknown-peer",
            DropReason::NotAMember => "not-a-member",
            DropReason::NoEgress => "no-egress",
            DropReason::SnatNoPort => "snat-no-port",
            DropReason::NoWgDevice => "no-wg-device",
            DropReason::ClearOnEncrypted => "clear-on-encrypted",
        }
    }

    /// The reason for a wire code, if the code is known.
    pub fn from_code(code: u32) -> Option<DropReason> {
        DropReason::ALL.into_iter().find(|r| *r as u32 == code)
    }
}
