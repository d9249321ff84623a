//! The listener's side of `shoal dp monitor`: switching the programs'
//! events on (with a lease it renews), reading them from the pinned ring
//! buffer and decoding them. Dropping the [`Monitor`] switches them off.

use std::{
    net::Ipv4Addr,
    os::fd::{AsFd, BorrowedFd},
    path::PathBuf,
    time::Duration,
};

use aya::maps::{Array, Map, MapData, MapError, RingBuf};
use serde::Serialize;
use shoal_common::{
    DropReason, maps,
    monitor::{
        EVENT_DROP, FlowAddrs, MONITOR_DROPS, MONITOR_TRACE, MonitorConfig, MonitorEvent,
        MonitorProgram, VERDICT_DROP, VERDICT_PASS, VERDICT_REDIRECT,
    },
};

use crate::{lb::tables::monotonic_ns, pins::PinPaths};

/// How long the programs keep emitting after the last renewal. A listener
/// killed without cleaning up stops costing anything after this.
pub const LEASE: Duration = Duration::from_secs(2);

/// Errors switching the monitor on or reading it.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The monitor maps are not pinned: nothing attached, or an older
    /// object without them.
    #[error(
        "no monitor ring buffer for this node (no pinned map at {path}); attach the data plane first with `shoal dp attach` or `shoal dp apply`"
    )]
    NotLoaded {
        /// Where the map was expected.
        path: PathBuf,
    },
    /// A pinned map could not be opened, read or written.
    #[error("monitor map {path}: {source}")]
    Map {
        /// The pinned map.
        path: PathBuf,
        /// aya's error.
        source: MapError,
    },
}

/// Which events to ask for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonitorFilter {
    /// Drop events.
    pub drops: bool,
    /// Trace events (passed and redirected packets).
    pub trace: bool,
    /// Only packets from this address (and port, if not 0).
    pub from: Option<(Ipv4Addr, u16)>,
    /// Only packets to this address (and port, if not 0).
    pub to: Option<(Ipv4Addr, u16)>,
}

impl MonitorFilter {
    /// The config slot for this filter, leased until `lease_until_ns`.
    pub fn config(&self, lease_until_ns: u64) -> MonitorConfig {
        let flags =
            if self.drops { MONITOR_DROPS } else { 0 } | if self.trace { MONITOR_TRACE } else { 0 };
        let (from_addr, from_port) = self.from.map_or(([0; 4], 0), |(a, p)| (a.octets(), p));
        let (to_addr, to_port) = self.to.map_or(([0; 4], 0), |(a, p)| (a.octets(), p));
        MonitorConfig {
            flags,
            lease_until_ns,
            from_addr,
            to_addr,
            from_port,
            to_port,
            ..MonitorConfig::default()
        }
    }
}

/// A switched-on monitor of one node.
pub struct Monitor {
    config: Array<MapData, MonitorConfig>,
    config_path: PathBuf,
    events: RingBuf<MapData>,
    filter: MonitorFilter,
}

impl Monitor {
    /// Open the node's pinned monitor maps and switch `filter` on.
    pub fn start(pins: &PinPaths, filter: MonitorFilter) -> Result<Self, MonitorError> {
        let open = |name: &str| {
            let path = pins.map(name);
            if !path.exists() {
                return Err(MonitorError::NotLoaded { path });
            }
            MapData::from_pin(&path)
                .map(|data| (data, path.clone()))
                .map_err(|source| MonitorError::Map { path, source })
        };
        let (events, events_path) = open(maps::MONITOR_EVENTS)?;
        let events =
            RingBuf::try_from(Map::RingBuf(events)).map_err(|source| MonitorError::Map {
                path: events_path,
                source,
            })?;
        let (config, config_path) = open(maps::MONITOR_CONFIG)?;
        let config = Array::try_from(Map::Array(config)).map_err(|source| MonitorError::Map {
            path: config_path.clone(),
            source,
        })?;
        let mut monitor = Self {
            config,
            config_path,
            events,
            filter,
        };
        // Events left from an earlier listener are not this one's.
        while monitor.events.next().is_some() {}
        monitor.renew()?;
        Ok(monitor)
    }

    /// Extend the lease; call well within every [`LEASE`].
    pub fn renew(&mut self) -> Result<(), MonitorError> {
        let until = monotonic_ns() + LEASE.as_nanos() as u64;
        self.write(self.filter.config(until))
    }

    /// Switch the events off (also done on drop).
    pub fn stop(&mut self) -> Result<(), MonitorError> {
        self.write(MonitorConfig::default())
    }

    /// Write the config slot as given (fixtures: an expired lease); the
    /// next [`Monitor::renew`] writes this monitor's filter again.
    pub fn write(&mut self, cfg: MonitorConfig) -> Result<(), MonitorError> {
        self.config
            .set(0, cfg, 0)
            .map_err(|source| MonitorError::Map {
                path: self.config_path.clone(),
                source,
            })
    }

    /// The config slot as the programs see it now.
    pub fn config(&self) -> Result<MonitorConfig, MonitorError> {
        self.config.get(&0, 0).map_err(|source| MonitorError::Map {
            path: self.config_path.clone(),
            source,
        })
    }

    /// The next event waiting in the ring, if any; records too short to
    /// be an event (an object/userspace mismatch) are skipped.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            let item = self.events.next()?;
            if let Some(event) = decode(&item) {
                return Some(Event::from_raw(&event));
            }
        }
    }

    /// The ring buffer's fd: readable (epoll/poll) when events wait.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.events.as_fd()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            log::warn!("switching the monitor off: {e}");
        }
    }
}

/// The raw record, if `bytes` holds one.
pub fn decode(bytes: &[u8]) -> Option<MonitorEvent> {
    if bytes.len() < size_of::<MonitorEvent>() {
        return None;
    }
    // SAFETY: long enough, `MonitorEvent` is plain integers (any bit
    // pattern valid), read unaligned.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<MonitorEvent>()) })
}

/// One IPv4 header's addresses as `dp monitor` shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Flow {
    /// `tcp`, `udp`, `icmp` or the protocol number.
    pub proto: String,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// TCP/UDP source port (0 otherwise).
    pub sport: u16,
    /// TCP/UDP destination port (0 otherwise).
    pub dport: u16,
}

impl Flow {
    fn from_raw(f: &FlowAddrs) -> Option<Self> {
        let proto = match f.proto {
            0 if f.src == [0; 4] && f.dst == [0; 4] => return None,
            1 => "icmp".to_owned(),
            6 => "tcp".to_owned(),
            17 => "udp".to_owned(),
            other => other.to_string(),
        };
        Some(Self {
            proto,
            src: f.src.into(),
            dst: f.dst.into(),
            sport: f.sport,
            dport: f.dport,
        })
    }
}

/// A decoded event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// `drop` or `trace`.
    pub kind: &'static str,
    /// The drop reason's name (as `shoal dp stats` shows it), drops only.
    pub reason: Option<&'static str>,
    /// `pass`, `redirect` or `drop`.
    pub verdict: &'static str,
    /// The program: `underlay-xdp`, `underlay-tc`, `task-tc`, `wg-tc`.
    pub program: &'static str,
    /// The device the packet arrived on.
    pub ifindex: u32,
    /// Frame length in bytes.
    pub len: u32,
    /// The frame's IPv4 header, if it had a readable one.
    pub flow: Option<Flow>,
    /// VXLAN frames: the VNI.
    pub vni: Option<u32>,
    /// VXLAN frames: the inner packet's IPv4 header.
    pub inner: Option<Flow>,
}

impl Event {
    /// Decode the raw record; unknown codes show as `unknown`.
    pub fn from_raw(raw: &MonitorEvent) -> Self {
        let drop = raw.kind == EVENT_DROP;
        Self {
            kind: if drop { "drop" } else { "trace" },
            reason: drop.then(|| DropReason::from_code(raw.reason).map_or("unknown", |r| r.name())),
            verdict: match raw.verdict {
                VERDICT_PASS => "pass",
                VERDICT_REDIRECT => "redirect",
                VERDICT_DROP => "drop",
                _ => "unknown",
            },
            program: MonitorProgram::from_code(raw.program).map_or("unknown", |p| p.name()),
            ifindex: raw.ifindex,
            len: raw.len,
            flow: Flow::from_raw(&raw.outer),
            vni: (raw.vni != 0 || raw.has_inner == 1).then_some(raw.vni),
            inner: (raw.has_inner == 1)
                .then(|| Flow::from_raw(&raw.inner))
                .flatten(),
        }
    }
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
