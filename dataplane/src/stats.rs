//! Reading the per-CPU counters back: summed over CPUs, one row per slot.

use std::path::PathBuf;

use aya::maps::{Map, MapData, MapError, PerCpuArray};
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
    report_from(|slot| {
        let values = array.get(&slot, 0)?;
        Ok(values.iter().fold(Counter::default(), |sum, c| Counter {
            packets: sum.packets + c.packets,
            bytes: sum.bytes + c.bytes,
        }))
    })
    .map_err(map_err)
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
