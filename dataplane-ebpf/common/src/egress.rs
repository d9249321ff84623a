//! Egress: a task's traffic to addresses outside the cluster leaves with
//! the node's address as its source (source NAT in eBPF, as Cilium's BPF
//! masquerading does); replies are translated back to the task.
//!
//! A translated flow has a forward entry ([`crate::maps::SNAT`], keyed by
//! the flow as the task sent it, with its network) and a reverse entry
//! ([`crate::maps::SNAT_REV`], keyed by the reply as it arrives: remote →
//! node address and NAT port, VNI 0). A TCP or UDP flow keeps the task's
//! own source port when the node can spare it (as Linux's NAT does);
//! other NAT ports (ICMP echo identifiers too) come from
//! [`NAT_PORT_MIN`]..=[`NAT_PORT_MAX`]: above Linux's
//! default `ip_local_port_range` (32768-60999), so the node's own outgoing
//! connections never pick them, and above the routing mesh's published
//! ports (30000-32767 unless a service asks for another). A port only has
//! to be unique per remote address, remote port and protocol.

/// Lowest NAT port.
pub const NAT_PORT_MIN: u16 = 61000;
/// Highest NAT port.
pub const NAT_PORT_MAX: u16 = 65535;
/// Ports tried for a new flow before it is refused (`snat-no-port`).
pub const NAT_PORT_PROBES: u32 = 16;

/// Value of [`crate::maps::EGRESS`], keyed by VNI: the network's tasks may
/// reach addresses outside the cluster (not an `--internal` network).
pub const EGRESS_ALLOWED: u32 = 1;

/// Forward entry of a translated flow; value of [`crate::maps::SNAT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnatEntry {
    /// Last packet in either direction, `bpf_ktime_get_ns` clock.
    pub last_seen_ns: u64,
    /// The NAT port (or ICMP echo identifier), network byte order.
    pub nat_port: [u8; 2],
    /// One of the `CT_*` states of [`crate::lb`]: the same state-following
    /// timeouts as translated service flows.
    pub state: u8,
    /// `CT_FIN_*` bits (client = the task).
    pub fins: u8,
    /// Explicit padding; always zero.
    pub _pad: [u8; 4],
}
const _: () = assert!(core::mem::size_of::<SnatEntry>() == 16);

/// Reverse entry of a translated flow; value of [`crate::maps::SNAT_REV`].
/// Live only while the forward entry it names is.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnatRevEntry {
    /// The task's address, network byte order.
    pub task_ip: [u8; 4],
    /// The task's port (ICMP echo identifier), network byte order.
    pub task_port: [u8; 2],
    /// Explicit padding; always zero.
    pub _pad: [u8; 2],
    /// The task's network (host order).
    pub vni: u32,
    /// Explicit padding; always zero.
    pub _pad2: [u8; 4],
}
const _: () = assert!(core::mem::size_of::<SnatRevEntry>() == 16);

/// NAT port number `n` (any `u32`) of the range, host order.
#[inline(always)]
pub fn nat_port(n: u32) -> u16 {
    let span = u32::from(NAT_PORT_MAX - NAT_PORT_MIN) + 1;
    // The remainder is below `span`, which fits in u16.
    NAT_PORT_MIN + (n % span) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_ports_stay_in_the_range() {
        assert_eq!(nat_port(0), NAT_PORT_MIN);
        assert_eq!(
            nat_port(u32::from(NAT_PORT_MAX - NAT_PORT_MIN)),
            NAT_PORT_MAX
        );
        assert_eq!(
            nat_port(u32::from(NAT_PORT_MAX - NAT_PORT_MIN) + 1),
            NAT_PORT_MIN
        );
        assert!((0..100_000).map(nat_port).all(|p| p >= NAT_PORT_MIN));
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY (all): `repr(C)`, integers and byte arrays only, explicit
    // padding, every bit pattern valid.
    unsafe impl aya::Pod for super::SnatEntry {}
    unsafe impl aya::Pod for super::SnatRevEntry {}
}
