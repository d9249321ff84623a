//! Reading the per-CPU counters back: summed over CPUs, one row per slot.

use std::path::PathBuf;

use std::borrow::Borrow;

use aya::{
    Ebpf,
    maps::{Map, MapData, MapError, PerCpuArray},
};
use serde::Serialize;
use shoal_common::{Counter, DropReason, Stat, maps};

use crate::pins::PinPaths;

/// Errors reading counters.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The stats map is not pinned: nothing was ever attached on this node.
    #[error(
        "no data plane loaded for this node (no pinned map at {path}); attach it first with `shoal dp attach`"
    )]
    NotLoaded {
        /// Where the map was expected.
        path: PathBuf,
    },
    /// The pinned map exists but could not be read.
    #[error("reading {path}: {source}")]
    Map {
        /// The pinned map.
        path: PathBuf,
        /// aya's error.
        source: MapError,
    },
    /// A loaded object has no stats map: the object and this crate disagree.
    #[error("the loaded eBPF object has no map {name}")]
    MissingMap {
        /// The map looked for.
        name: &'static str,
    },
    /// A loaded object's stats map could not be read.
    #[error("reading map {name} of the loaded object: {source}")]
    LoadedMap {
        /// The map.
        name: &'static str,
        /// aya's error.
        source: MapError,
    },
}

/// One counter, summed over CPUs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatRow {
    /// `rx`, `pass`, ... or a drop reason's name.
    pub counter: &'static str,
    /// `true` for drop reasons.
    pub drop: bool,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Every counter of a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatsReport {
    /// Observation counters first, then drop reasons, in code order.
    pub rows: Vec<StatRow>,
}

impl StatsReport {
    /// The row called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&StatRow> {
        self.rows.iter().find(|r| r.counter == name)
    }

    /// Packets counted under `stat`.
    pub fn packets(&self, stat: Stat) -> u64 {
        self.get(stat.name()).map_or(0, |r| r.packets)
    }

    /// Packets dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.rows.iter().filter(|r| r.drop).map(|r| r.packets).sum()
    }
}

/// Read the node's pinned counters.
pub fn read_stats(pins: &PinPaths) -> Result<StatsReport, StatsError> {
    let path = pins.map(maps::STATS);
    if !path.exists() {
        return Err(StatsError::NotLoaded { path });
    }
    let map_err = |source| StatsError::Map {
        path: path.clone(),
        source,
    };
    let data = MapData::from_pin(&path).map_err(map_err)?;
    let array: PerCpuArray<MapData, Counter> =
        PerCpuArray::try_from(Map::PerCpuArray(data)).map_err(map_err)?;
    report_from_array(&array).map_err(map_err)
}

/// Read the counters of an object loaded in this process, without going
/// through the pins (packet fixtures run programs with `BPF_PROG_TEST_RUN`
/// and compare these before and after).
pub fn read_stats_loaded(ebpf: &Ebpf) -> Result<StatsReport, StatsError> {
    let name = maps::STATS;
    let map = ebpf.map(name).ok_or(StatsError::MissingMap { name })?;
    let map_err = |source| StatsError::LoadedMap { name, source };
    let array: PerCpuArray<&MapData, Counter> = PerCpuArray::try_from(map).map_err(map_err)?;
    report_from_array(&array).map_err(map_err)
}

fn report_from_array<T: Borrow<MapData>>(
    array: &PerCpuArray<T, Counter>,
) -> Result<StatsReport, MapError> {
    report_from(|slot| Ok(sum_cpus(array.get(&slot, 0)?.iter())))
}

/// One counter summed over every CPU's copy.
pub fn sum_cpus<'a>(per_cpu: impl IntoIterator<Item = &'a Counter>) -> Counter {
    per_cpu
        .into_iter()
        .fold(Counter::default(), |sum, c| Counter {
            packets: sum.packets + c.packets,
            bytes: sum.bytes + c.bytes,
        })
}

/// Build a report from a per-slot reader (summed over CPUs).
pub fn report_from(
    mut read: impl FnMut(u32) -> Result<Counter, MapError>,
) -> Result<StatsReport, MapError> {
    let stats = Stat::OBSERVATIONS
        .into_iter()
        .chain(DropReason::ALL.into_iter().map(Stat::Drop));
    let mut rows = Vec::new();
    for stat in stats {
        let c = read(stat.slot())?;
        rows.push(StatRow {
            counter: stat.name(),
            drop: matches!(stat, Stat::Drop(_)),
            packets: c.packets,
            bytes: c.bytes,
        });
    }
    Ok(StatsReport { rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lists_observations_then_drops_in_code_order() {
        let mut asked = Vec::new();
        let report = report_from(|slot| {
            asked.push(slot);
            Ok(Counter {
                packets: u64::from(slot),
                bytes: u64::from(slot) * 100,
            })
        })
        .unwrap();
        let names: Vec<_> = report.rows.iter().map(|r| r.counter).collect();
        assert_eq!(
            names,
            [
                "rx",
                "pass",
                "not-ipv4",
                "ipv4-options",
                "fragment",
                "other-l4",
                "encap",
                "decap",
                "local-delivery",
                "arp-reply",
                "service-in",
                "new-flow",
                "rev-nat",
                "return-path",
                "reset",
                "icmp-unreachable",
                "ct-insert-failed",
                "snat",
                "rev-snat",
                "to-host",
                "wg-encap",
                "xdp-decap",
                "truncated-ethernet",
                "truncated-ipv4",
                "malformed-ipv4",
                "truncated-l4",
                "malformed-l4",
                "pull-failed",
                "unknown-vni",
                "unknown-endpoint",
                "malformed-vxlan",
                "no-task-iface",
                "spoofed-source",
                "unsupported-l3",
                "arp-not-answered",
                "encap-failed",
                "decap-failed",
                "no-node-config",
                "no-backend",
                "nat-failed",
                "stale-backend",
                "reject-failed",
                "fragment-to-vip",
                "unknown-peer",
                "not-a-member",
                "no-egress",
                "snat-no-port",
                "no-wg-device",
                "clear-on-encrypted",
            ]
        );
        let drops: Vec<u32> = (33..=59).collect();
        assert_eq!(asked, [&(0..22).collect::<Vec<u32>>()[..], &drops].concat());
        for row in &report.rows {
            assert_eq!(
                row.drop,
                !Stat::OBSERVATIONS.iter().any(|s| s.name() == row.counter)
            );
            assert_eq!(row.bytes, row.packets * 100, "{}", row.counter);
        }
        assert_eq!(report.packets(Stat::Fragment), 4);
        assert_eq!(report.packets(Stat::Drop(DropReason::MalformedL4)), 37);
        assert_eq!(report.dropped(), (33..=59).sum::<u64>());
    }

    #[test]
    fn per_cpu_copies_are_summed() {
        let cpus = [
            Counter {
                packets: 1,
                bytes: 60,
            },
            Counter::default(),
            Counter {
                packets: 2,
                bytes: 1500,
            },
        ];
        assert_eq!(
            sum_cpus(&cpus),
            Counter {
                packets: 3,
                bytes: 1560
            }
        );
        assert_eq!(sum_cpus(&[]), Counter::default());
    }

    #[test]
    fn a_failing_slot_fails_the_report() {
        let result = report_from(|slot| {
            if slot == Stat::Drop(DropReason::TruncatedL4).slot() {
                Err(MapError::OutOfBounds {
                    index: slot,
                    max_entries: 0,
                })
            } else {
                Ok(Counter::default())
            }
        });
        assert!(matches!(result, Err(MapError::OutOfBounds { .. })));
    }
}
