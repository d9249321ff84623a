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
}

impl DropReason {
    /// Every reason, in code order. Userspace walks this to print counters.
    pub const ALL: [DropReason; 6] = [
        DropReason::TruncatedEthernet,
        DropReason::TruncatedIpv4,
        DropReason::MalformedIpv4,
        DropReason::TruncatedL4,
        DropReason::MalformedL4,
        DropReason::PullFailed,
    ];

    /// The largest code in use; counter tables reserve a slot up to it.
    pub const MAX_CODE: u32 = 6;

    /// The stable, kebab-case name shown by `shoal dp stats`.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::TruncatedEthernet => "truncated-ethernet",
            DropReason::TruncatedIpv4 => "truncated-ipv4",
            DropReason::MalformedIpv4 => "malformed-ipv4",
            DropReason::TruncatedL4 => "truncated-l4",
            DropReason::MalformedL4 => "malformed-l4",
            DropReason::PullFailed => "pull-failed",
        }
    }

    /// The reason for a wire code, if the code is known.
    pub fn from_code(code: u32) -> Option<DropReason> {
        DropReason::ALL.into_iter().find(|r| *r as u32 == code)
    }
}
