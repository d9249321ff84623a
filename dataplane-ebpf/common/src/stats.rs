//! Per-CPU packet counters: what programs saw, what they passed, and what
//! they dropped by reason. One array slot per [`Stat`].

use crate::drop::DropReason;

/// A packets/bytes pair; one per CPU per slot in the stats map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    /// Packets counted, host byte order.
    pub packets: u64,
    /// Bytes counted (frame length as the hook saw it), host byte order.
    pub bytes: u64,
}
const _: () = assert!(core::mem::size_of::<Counter>() == 16);

#[cfg(feature = "user")]
// SAFETY: plain `repr(C)` integers, no padding, every bit pattern valid.
unsafe impl aya::Pod for Counter {}

/// A counter slot. Observation slots sit below [`Stat::DROP_BASE`]; drop
/// reasons occupy `DROP_BASE + reason code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// Every packet a shoal program ran on.
    Rx,
    /// Packets handed on to the kernel stack unchanged.
    Pass,
    /// Frames that are not IPv4 (ARP, IPv6, ...), passed untouched.
    NotIpv4,
    /// IPv4 packets carrying header options (IHL > 5), parsed past them.
    Ipv4Options,
    /// Non-first IPv4 fragments: no L4 header to read, passed.
    Fragment,
    /// IPv4 with an L4 protocol shoal does not parse, passed.
    OtherL4,
    /// Task packets wrapped in VXLAN towards another node.
    Encap,
    /// VXLAN frames unwrapped and delivered to a local task.
    Decap,
    /// Task packets delivered straight to another task on this node.
    LocalDelivery,
    /// ARP requests from tasks answered by the data plane.
    ArpReply,
    /// Packets to a service (VIP or published port) translated to a backend.
    ServiceIn,
    /// Flows that got a backend picked (Maglev), i.e. new or expired flows.
    NewFlow,
    /// Replies translated back to the VIP or published address.
    RevNat,
    /// Mesh replies sent back through VXLAN to the node that translated.
    ReturnPath,
    /// Refused flows answered with a TCP reset.
    Reset,
    /// Refused datagrams answered with ICMP port unreachable.
    Unreachable,
    /// Conntrack or reply-table inserts the kernel refused (the packet
    /// still went on, but its flow state was not recorded).
    CtInsertFailed,
    /// Task packets to outside the cluster sent with the node's address.
    Snat,
    /// Replies from outside translated back to the task.
    RevSnat,
    /// Task packets to the node's own address, handed to its stack.
    ToHost,
    /// Frames of encrypted networks wrapped in VXLAN and handed to the
    /// WireGuard device (userspace encrypts them).
    WgEncap,
    /// VXLAN frames the XDP fast path unwrapped and sent to a local task
    /// (also counted [`Stat::Decap`]; the rest of the decapsulations
    /// happened at TC).
    XdpDecap,
    /// Packets dropped, by reason.
    Drop(DropReason),
}

impl Stat {
    /// First slot used by drop reasons.
    pub const DROP_BASE: u32 = 32;
    /// Slots in the stats map.
    pub const SLOTS: u32 = Stat::DROP_BASE + DropReason::MAX_CODE + 1;
    /// The observation slots, in display order.
    pub const OBSERVATIONS: [Stat; 22] = [
        Stat::Rx,
        Stat::Pass,
        Stat::NotIpv4,
        Stat::Ipv4Options,
        Stat::Fragment,
        Stat::OtherL4,
        Stat::Encap,
        Stat::Decap,
        Stat::LocalDelivery,
        Stat::ArpReply,
        Stat::ServiceIn,
        Stat::NewFlow,
        Stat::RevNat,
        Stat::ReturnPath,
        Stat::Reset,
        Stat::Unreachable,
        Stat::CtInsertFailed,
        Stat::Snat,
        Stat::RevSnat,
        Stat::ToHost,
        Stat::WgEncap,
        Stat::XdpDecap,
    ];

    /// The map index of this counter.
    pub const fn slot(self) -> u32 {
        match self {
            Stat::Rx => 0,
            Stat::Pass => 1,
            Stat::NotIpv4 => 2,
            Stat::Ipv4Options => 3,
            Stat::Fragment => 4,
            Stat::OtherL4 => 5,
            Stat::Encap => 6,
            Stat::Decap => 7,
            Stat::LocalDelivery => 8,
            Stat::ArpReply => 9,
            Stat::ServiceIn => 10,
            Stat::NewFlow => 11,
            Stat::RevNat => 12,
            Stat::ReturnPath => 13,
            Stat::Reset => 14,
            Stat::Unreachable => 15,
            Stat::CtInsertFailed => 16,
            Stat::Snat => 17,
            Stat::RevSnat => 18,
            Stat::ToHost => 19,
            Stat::WgEncap => 20,
            Stat::XdpDecap => 21,
            Stat::Drop(reason) => Stat::DROP_BASE + reason as u32,
        }
    }

    /// The name `shoal dp stats` prints: `rx`, `pass`, `drop/truncated-ipv4`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Stat::Rx => "rx",
            Stat::Pass => "pass",
            Stat::NotIpv4 => "not-ipv4",
            Stat::Ipv4Options => "ipv4-options",
            Stat::Fragment => "fragment",
            Stat::OtherL4 => "other-l4",
            Stat::Encap => "encap",
            Stat::Decap => "decap",
            Stat::LocalDelivery => "local-delivery",
            Stat::ArpReply => "arp-reply",
            Stat::ServiceIn => "service-in",
            Stat::NewFlow => "new-flow",
            Stat::RevNat => "rev-nat",
            Stat::ReturnPath => "return-path",
            Stat::Reset => "reset",
            Stat::Unreachable => "icmp-unreachable",
            Stat::CtInsertFailed => "ct-insert-failed",
            Stat::Snat => "snat",
            Stat::RevSnat => "rev-snat",
            Stat::ToHost => "to-host",
            Stat::WgEncap => "wg-encap",
            Stat::XdpDecap => "xdp-decap",
            Stat::Drop(reason) => reason.name(),
        }
    }
}
