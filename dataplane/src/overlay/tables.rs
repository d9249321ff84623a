//! The overlay's pinned maps, opened by pin so any process (apply, the
//! inspection commands, a restarted daemon) sees the same tables.

use std::{collections::BTreeMap, path::PathBuf};

use aya::{
    Pod,
    maps::{Array, HashMap, Map, MapData, MapError},
};
use serde::Serialize;
use shoal_common::{
    maps,
    overlay::{Endpoint, EndpointKey, Network, NodeConfig, Peer, TaskIface},
};

use crate::pins::PinPaths;

/// Errors opening or changing the tables.
#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    /// A map is not pinned: the overlay was never applied on this node.
    #[error(
        "no overlay loaded for this node (no pinned map at {path}); run `shoal dp apply` first"
    )]
    NotLoaded {
        /// Where the map was expected.
        path: PathBuf,
    },
    /// A map operation failed.
    #[error("map {name}: {source}")]
    Map {
        /// Map name.
        name: &'static str,
        /// aya's error.
        source: MapError,
    },
}

/// What a sync changed in one table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Entries that were not there.
    pub added: usize,
    /// Entries whose value changed.
    pub updated: usize,
    /// Entries that are no longer wanted.
    pub removed: usize,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added + self.updated + self.removed == 0
    }
}

/// The overlay maps of a node.
pub struct Tables {
    /// Node settings (one entry).
    pub node: Array<MapData, NodeConfig>,
    /// VNI → network.
    pub networks: HashMap<MapData, u32, Network>,
    /// Host-side ifindex → task interface.
    pub ifaces: HashMap<MapData, u32, TaskIface>,
    /// (VNI, IP) → endpoint.
    pub endpoints: HashMap<MapData, EndpointKey, Endpoint>,
    /// Underlay IPv4 (network order) → peer node.
    pub peers: HashMap<MapData, [u8; 4], Peer>,
    /// VNI → egress allowed.
    pub egress: HashMap<MapData, u32, u32>,
}

impl Tables {
    /// Open the node's pinned overlay maps.
    pub fn open(pins: &PinPaths) -> Result<Self, TablesError> {
        Ok(Self {
            node: Array::try_from(open(pins, maps::NODE, Map::Array)?)
                .map_err(map_err(maps::NODE))?,
            networks: HashMap::try_from(open(pins, maps::NETWORKS, Map::HashMap)?)
                .map_err(map_err(maps::NETWORKS))?,
            ifaces: HashMap::try_from(open(pins, maps::TASK_IFACES, Map::HashMap)?)
                .map_err(map_err(maps::TASK_IFACES))?,
            egress: HashMap::try_from(open(pins, maps::EGRESS, Map::HashMap)?)
                .map_err(map_err(maps::EGRESS))?,
            endpoints: HashMap::try_from(open(pins, maps::ENDPOINTS, Map::HashMap)?)
                .map_err(map_err(maps::ENDPOINTS))?,
            peers: HashMap::try_from(open(pins, maps::PEERS, Map::HashMap)?)
                .map_err(map_err(maps::PEERS))?,
        })
    }

    /// The node settings, if written.
    pub fn node_config(&self) -> Result<Option<NodeConfig>, TablesError> {
        let cfg = self.node.get(&0, 0).map_err(map_err(maps::NODE))?;
        Ok((cfg.underlay_ifindex != 0).then_some(cfg))
    }

    /// Write the node settings; returns whether they changed.
    pub fn set_node_config(&mut self, cfg: NodeConfig) -> Result<bool, TablesError> {
        if self.node_config()? == Some(cfg) {
            return Ok(false);
        }
        self.node.set(0, cfg, 0).map_err(map_err(maps::NODE))?;
        Ok(true)
    }

    /// Every endpoint, sorted by key.
    pub fn endpoint_entries(&self) -> Result<Vec<(EndpointKey, Endpoint)>, TablesError> {
        let mut all = entries(&self.endpoints, maps::ENDPOINTS)?;
        all.sort_by_key(|(k, _)| (k.vni, k.ip));
        Ok(all)
    }
}

pub(crate) fn open(
    pins: &PinPaths,
    name: &'static str,
    wrap: fn(MapData) -> Map,
) -> Result<Map, TablesError> {
    let path = pins.map(name);
    if !path.exists() {
        return Err(TablesError::NotLoaded { path });
    }
    MapData::from_pin(&path).map(wrap).map_err(map_err(name))
}

pub(crate) fn map_err(name: &'static str) -> impl Fn(MapError) -> TablesError {
    move |source| TablesError::Map { name, source }
}

/// Every entry of a hash map.
pub fn entries<K: Pod, V: Pod>(
    map: &HashMap<MapData, K, V>,
    name: &'static str,
) -> Result<Vec<(K, V)>, TablesError> {
    map.iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err(name))
}

/// Make `map` hold exactly `desired`: add missing keys, update changed
/// values, then remove keys no longer wanted (additions first, so a
/// replacement never leaves a gap).
pub fn sync<K: Pod + Ord, V: Pod + PartialEq>(
    map: &mut HashMap<MapData, K, V>,
    name: &'static str,
    desired: &BTreeMap<K, V>,
) -> Result<Changes, TablesError> {
    let mut changes = upsert(map, name, desired)?;
    changes.removed = remove_stale(map, name, desired)?;
    Ok(changes)
}

/// Add missing keys and update changed values; removes nothing.
pub fn upsert<K: Pod + Ord, V: Pod + PartialEq>(
    map: &mut HashMap<MapData, K, V>,
    name: &'static str,
    desired: &BTreeMap<K, V>,
) -> Result<Changes, TablesError> {
    let current: BTreeMap<K, V> = entries(map, name)?.into_iter().collect();
    let mut changes = Changes::default();
    for (key, value) in desired {
        match current.get(key) {
            Some(old) if old == value => continue,
            Some(_) => changes.updated += 1,
            None => changes.added += 1,
        }
        map.insert(key, value, 0).map_err(map_err(name))?;
    }
    Ok(changes)
}

/// Remove keys not in `desired`; returns how many.
pub fn remove_stale<K: Pod + Ord, V: Pod>(
    map: &mut HashMap<MapData, K, V>,
    name: &'static str,
    desired: &BTreeMap<K, V>,
) -> Result<usize, TablesError> {
    let mut removed = 0;
    for (key, _) in entries(map, name)? {
        if !desired.contains_key(&key) {
            map.remove(&key).map_err(map_err(name))?;
            removed += 1;
        }
    }
    Ok(removed)
}
