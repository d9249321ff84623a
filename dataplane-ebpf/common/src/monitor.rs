//! `shoal dp monitor`: the switch the listener flips and the events the
//! programs put in the ring buffer for it.
//!
//! Nobody listening costs one array lookup per verdict (a drop, or a
//! passed or redirected packet checking whether trace is on):
//! [`MonitorConfig::flags`] is 0. A listener writes the flags with a lease
//! ([`MonitorConfig::lease_until_ns`]) it renews; a listener killed
//! without clearing them stops getting events when the lease runs out,
//! and the first program to see the stale lease clears the flags itself.

/// [`MonitorConfig::flags`]: emit an event for every dropped packet.
pub const MONITOR_DROPS: u32 = 1;
/// [`MonitorConfig::flags`]: emit an event for every packet a program
/// passed or redirected that matches the address filter.
pub const MONITOR_TRACE: u32 = 2;

/// [`MonitorEvent::kind`]: a packet was dropped; `reason` says why.
pub const EVENT_DROP: u8 = 1;
/// [`MonitorEvent::kind`]: a packet was passed or redirected.
pub const EVENT_TRACE: u8 = 2;

/// [`MonitorEvent::verdict`] of a trace: handed on to the kernel stack.
pub const VERDICT_PASS: u8 = 1;
/// [`MonitorEvent::verdict`] of a trace: taken by a redirect helper.
pub const VERDICT_REDIRECT: u8 = 2;
/// [`MonitorEvent::verdict`] of a drop.
pub const VERDICT_DROP: u8 = 3;

/// Which program emitted an event ([`MonitorEvent::program`]).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorProgram {
    /// `shoal_underlay_xdp`.
    UnderlayXdp = 1,
    /// `shoal_underlay_tc`.
    UnderlayTc = 2,
    /// `shoal_task_tc`.
    TaskTc = 3,
    /// `shoal_wg_tc`.
    WgTc = 4,
}

impl MonitorProgram {
    /// Every program, in code order.
    pub const ALL: [MonitorProgram; 4] = [
        MonitorProgram::UnderlayXdp,
        MonitorProgram::UnderlayTc,
        MonitorProgram::TaskTc,
        MonitorProgram::WgTc,
    ];

    /// The name `shoal dp monitor` prints.
    pub const fn name(self) -> &'static str {
        match self {
            MonitorProgram::UnderlayXdp => "underlay-xdp",
            MonitorProgram::UnderlayTc => "underlay-tc",
            MonitorProgram::TaskTc => "task-tc",
            MonitorProgram::WgTc => "wg-tc",
        }
    }

    /// The program for a wire code, if known.
    pub fn from_code(code: u8) -> Option<MonitorProgram> {
        MonitorProgram::ALL.into_iter().find(|p| *p as u8 == code)
    }
}

/// Index 0 of [`crate::maps::MONITOR_CONFIG`]; written by `dp monitor`,
/// read (and cleared when its lease ran out) by every program.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonitorConfig {
    /// [`MONITOR_DROPS`] | [`MONITOR_TRACE`], host order; 0: nobody listens.
    pub flags: u32,
    /// Explicit padding; always zero.
    pub _pad: u32,
    /// `CLOCK_MONOTONIC` nanoseconds (`bpf_ktime_get_ns`) after which the
    /// flags no longer count, host order; the listener renews it.
    pub lease_until_ns: u64,
    /// Only packets from this IPv4 address (network byte order); 0.0.0.0: any.
    pub from_addr: [u8; 4],
    /// Only packets to this IPv4 address (network byte order); 0.0.0.0: any.
    pub to_addr: [u8; 4],
    /// Only packets from this L4 port (host order); 0: any.
    pub from_port: u16,
    /// Only packets to this L4 port (host order); 0: any.
    pub to_port: u16,
    /// Explicit padding; always zero.
    pub _pad2: u32,
}
const _: () = assert!(core::mem::size_of::<MonitorConfig>() == 32);

/// The addresses of one IPv4 header and its TCP/UDP ports, as an event
/// carries them (outer and, for VXLAN, inner).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowAddrs {
    /// Source IPv4, network byte order; 0.0.0.0 if the packet had none.
    pub src: [u8; 4],
    /// Destination IPv4, network byte order.
    pub dst: [u8; 4],
    /// TCP/UDP source port, host order; 0 for other protocols.
    pub sport: u16,
    /// TCP/UDP destination port, host order; 0 for other protocols.
    pub dport: u16,
    /// IPv4 protocol field; 0 if the frame carried no readable IPv4 header.
    pub proto: u8,
    /// Explicit padding; always zero.
    pub _pad: [u8; 3],
}
const _: () = assert!(core::mem::size_of::<FlowAddrs>() == 16);

impl FlowAddrs {
    /// Whether this header matches the listener's address filter.
    #[inline(always)]
    pub fn matches(&self, cfg: &MonitorConfig) -> bool {
        (cfg.from_addr == [0; 4] || cfg.from_addr == self.src)
            && (cfg.to_addr == [0; 4] || cfg.to_addr == self.dst)
            && (cfg.from_port == 0 || cfg.from_port == self.sport)
            && (cfg.to_port == 0 || cfg.to_port == self.dport)
    }
}

/// One record of [`crate::maps::MONITOR_EVENTS`]: a packet at the moment a
/// program decided its verdict. Written by the programs, read by `dp monitor`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonitorEvent {
    /// [`EVENT_DROP`] or [`EVENT_TRACE`].
    pub kind: u8,
    /// [`MonitorProgram`] code.
    pub program: u8,
    /// [`VERDICT_PASS`], [`VERDICT_REDIRECT`] or [`VERDICT_DROP`].
    pub verdict: u8,
    /// 1 if `inner` holds the headers inside a VXLAN frame, else 0.
    pub has_inner: u8,
    /// [`crate::DropReason`] code for drops; 0 for traces. Host order.
    pub reason: u32,
    /// The device the packet arrived on (XDP ingress ifindex, TC
    /// `skb->ifindex`), host order.
    pub ifindex: u32,
    /// Frame length as the program left it (as it arrived for drops,
    /// which do not change it), host order.
    pub len: u32,
    /// The VXLAN VNI if the frame is VXLAN (UDP to port 4789), host order.
    pub vni: u32,
    /// Explicit padding; always zero.
    pub _pad: u32,
    /// The frame's (outer) IPv4 header and ports.
    pub outer: FlowAddrs,
    /// The headers inside the VXLAN frame, when `has_inner` is 1.
    pub inner: FlowAddrs,
}
const _: () = assert!(core::mem::size_of::<MonitorEvent>() == 56);

#[cfg(feature = "user")]
// SAFETY: plain `repr(C)` integers and byte arrays, explicit padding.
unsafe impl aya::Pod for MonitorConfig {}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> FlowAddrs {
        FlowAddrs {
            src,
            dst,
            sport,
            dport,
            proto: 17,
            _pad: [0; 3],
        }
    }

    #[test]
    fn an_empty_filter_matches_everything_and_each_field_narrows_it() {
        let f = flow([10, 0, 0, 2], 1234, [10, 0, 0, 3], 80);
        let mut cfg = MonitorConfig::default();
        assert!(f.matches(&cfg));
        cfg.to_addr = [10, 0, 0, 3];
        assert!(f.matches(&cfg));
        cfg.to_port = 81;
        assert!(!f.matches(&cfg));
        cfg.to_port = 80;
        cfg.from_addr = [10, 0, 0, 9];
        assert!(!f.matches(&cfg));
        cfg.from_addr = [10, 0, 0, 2];
        cfg.from_port = 1234;
        assert!(f.matches(&cfg));
    }

    #[test]
    fn program_codes_round_trip() {
        for p in MonitorProgram::ALL {
            assert_eq!(MonitorProgram::from_code(p as u8), Some(p));
        }
        assert_eq!(MonitorProgram::from_code(0), None);
    }
}
