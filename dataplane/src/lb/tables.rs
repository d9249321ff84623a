//! The load balancer's pinned maps, opened by pin so `dp apply` and the
//! inspection commands see the same tables as the programs.

use aya::maps::{Array, HashMap, HashOfMaps, IterableMap as _, Map, MapData, MapError};
use shoal_common::{
    egress::SnatEntry,
    lb::{Backend, CtEntry, FlowKey, LbConfig, ReplyEntry, Service, ServiceKey},
    maps,
};

use super::table_map::{self, TableMapError};
use crate::{
    overlay::tables::{TablesError, entries, map_err, open},
    pins::PinPaths,
};

/// Errors opening or changing the load balancer's maps.
#[derive(Debug, thiserror::Error)]
pub enum LbTablesError {
    /// A map is missing, or an operation on it failed.
    #[error(transparent)]
    Tables(#[from] TablesError),
    /// A Maglev table could not be built or read.
    #[error("service id {id}: {source}")]
    Table {
        /// The service id.
        id: u32,
        /// What failed.
        source: TableMapError,
    },
}

/// The maps `dp apply` writes.
pub struct LbTables {
    /// (VNI, VIP, port) or published port → service.
    pub services: HashMap<MapData, ServiceKey, Service>,
    /// VIP → how many networks have it.
    pub vips: HashMap<MapData, [u8; 4], u32>,
    /// Backend id → backend.
    pub backends: HashMap<MapData, u32, Backend>,
    /// Service id → its Maglev table.
    pub maglev: HashOfMaps<MapData, u32, MapData>,
    /// Conntrack timeouts (one entry).
    pub config: Array<MapData, LbConfig>,
}

impl LbTables {
    /// Open the node's pinned load-balancing maps.
    pub fn open(pins: &PinPaths) -> Result<Self, LbTablesError> {
        let maglev = HashOfMaps::try_from(open(pins, maps::MAGLEV, Map::HashOfMaps)?)
            .map_err(map_err(maps::MAGLEV))?;
        Ok(Self {
            services: HashMap::try_from(open(pins, maps::SERVICES, Map::HashMap)?)
                .map_err(map_err(maps::SERVICES))?,
            vips: HashMap::try_from(open(pins, maps::VIPS, Map::HashMap)?)
                .map_err(map_err(maps::VIPS))?,
            backends: HashMap::try_from(open(pins, maps::BACKENDS, Map::HashMap)?)
                .map_err(map_err(maps::BACKENDS))?,
            maglev,
            config: Array::try_from(open(pins, maps::LB_CONFIG, Map::Array)?)
                .map_err(map_err(maps::LB_CONFIG))?,
        })
    }

    /// Every service entry, sorted by key.
    pub fn service_entries(&self) -> Result<Vec<(ServiceKey, Service)>, LbTablesError> {
        let mut all = entries(&self.services, maps::SERVICES)?;
        all.sort_by_key(|(k, _)| *k);
        Ok(all)
    }

    /// Every backend, sorted by id.
    pub fn backend_entries(&self) -> Result<Vec<(u32, Backend)>, LbTablesError> {
        let mut all = entries(&self.backends, maps::BACKENDS)?;
        all.sort_by_key(|(id, _)| *id);
        Ok(all)
    }

    /// The service ids that have a Maglev table.
    pub fn table_ids(&self) -> Result<Vec<u32>, LbTablesError> {
        let ids = self.maglev.keys().collect::<Result<Vec<u32>, MapError>>();
        Ok(ids.map_err(map_err(maps::MAGLEV))?)
    }

    /// Service `id`'s table: `None` if it has none, `Some(None)` if it has
    /// one of another layout.
    pub fn table(&self, id: u32) -> Result<Option<Option<Vec<u32>>>, LbTablesError> {
        let inner = match self.maglev.get(&id, 0) {
            Ok(inner) => inner,
            Err(MapError::KeyNotFound) => return Ok(None),
            Err(e) => return Err(map_err(maps::MAGLEV)(e).into()),
        };
        let table = table_map::read(inner).map_err(|source| LbTablesError::Table { id, source })?;
        Ok(Some(table))
    }

    /// Give service `id` a table holding `table`, swapped in whole.
    pub fn set_table(&mut self, id: u32, table: &[u32]) -> Result<(), LbTablesError> {
        let inner =
            table_map::create(table).map_err(|source| LbTablesError::Table { id, source })?;
        self.maglev
            .insert(id, inner.map(), 0)
            .map_err(map_err(maps::MAGLEV))?;
        Ok(())
    }

    /// Drop service `id`'s table.
    pub fn remove_table(&mut self, id: u32) -> Result<(), LbTablesError> {
        self.maglev.remove(&id).map_err(map_err(maps::MAGLEV))?;
        Ok(())
    }

    /// The conntrack timeouts as written.
    pub fn config(&self) -> Result<LbConfig, LbTablesError> {
        Ok(self.config.get(&0, 0).map_err(map_err(maps::LB_CONFIG))?)
    }

    /// Write the conntrack timeouts; returns whether they changed.
    pub fn set_config(&mut self, cfg: LbConfig) -> Result<bool, LbTablesError> {
        if self.config()? == cfg {
            return Ok(false);
        }
        self.config
            .set(0, cfg, 0)
            .map_err(map_err(maps::LB_CONFIG))?;
        Ok(true)
    }
}

/// The conntrack maps the programs write, for `dp conntrack`.
pub struct FlowTables {
    /// Client → service flows.
    pub conntrack: HashMap<MapData, FlowKey, CtEntry>,
    /// Backend → client replies.
    pub replies: HashMap<MapData, FlowKey, ReplyEntry>,
    /// Egress flows (task → outside) and their NAT ports.
    pub snat: HashMap<MapData, FlowKey, SnatEntry>,
}

impl FlowTables {
    /// Open the node's pinned conntrack maps.
    pub fn open(pins: &PinPaths) -> Result<Self, LbTablesError> {
        Ok(Self {
            conntrack: HashMap::try_from(open(pins, maps::CONNTRACK, Map::LruHashMap)?)
                .map_err(map_err(maps::CONNTRACK))?,
            replies: HashMap::try_from(open(pins, maps::REPLIES, Map::LruHashMap)?)
                .map_err(map_err(maps::REPLIES))?,
            snat: HashMap::try_from(open(pins, maps::SNAT, Map::LruHashMap)?)
                .map_err(map_err(maps::SNAT))?,
        })
    }

    /// Every tracked flow, sorted by key.
    pub fn flows(&self) -> Result<Vec<(FlowKey, CtEntry)>, LbTablesError> {
        let mut all = entries(&self.conntrack, maps::CONNTRACK)?;
        all.sort_by_key(|(k, _)| *k);
        Ok(all)
    }

    /// Every egress flow, sorted by key.
    pub fn egress(&self) -> Result<Vec<(FlowKey, SnatEntry)>, LbTablesError> {
        let mut all = entries(&self.snat, maps::SNAT)?;
        all.sort_by_key(|(k, _)| *k);
        Ok(all)
    }

    /// Every reply entry, sorted by key.
    pub fn replies(&self) -> Result<Vec<(FlowKey, ReplyEntry)>, LbTablesError> {
        let mut all = entries(&self.replies, maps::REPLIES)?;
        all.sort_by_key(|(k, _)| *k);
        Ok(all)
    }
}

/// Now on the clock `bpf_ktime_get_ns` reads (`CLOCK_MONOTONIC`), in ns.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs * 1_000_000_000 + nanos
}
