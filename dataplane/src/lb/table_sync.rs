//! Bring the Maglev outer map to the wanted tables with as few kernel
//! operations as possible:
//!
//! - the outer map is read in one batch (service id → inner map id), and
//!   each distinct inner map is read once, or not at all when this process
//!   read or wrote it before ([`TableCache`]: a published table is never
//!   written again, so a map id names one content for its lifetime);
//!   tables are compared by a 64-bit digest of their slots, so the cache
//!   holds 8 bytes per table, not the table;
//! - services whose tables are equal share one inner map, an existing one
//!   when the outer map already holds that content;
//! - new entries go in with batched updates, stale ones out with one
//!   batched delete: each batch costs the kernel one RCU grace period
//!   instead of one per service ([`crate::batch`]).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, hash_map::Entry},
    io,
    os::fd::{AsFd as _, AsRawFd as _, OwnedFd},
    sync::{Arc, Mutex},
};

use aya::maps::{IterableMap as _, MapData};

use super::table_map::{self, TableMapError};
use crate::{
    batch::{self, BatchError, MAX_BATCH},
    overlay::tables::Changes,
};

/// Errors reconciling the Maglev tables.
#[derive(Debug, thiserror::Error)]
pub enum TableSyncError {
    /// A batched outer-map operation failed.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// An inner map could not be created, opened or read.
    #[error("Maglev inner map {map_id}: {source}")]
    Table {
        /// Kernel id of the inner map (0: not created yet).
        map_id: u32,
        /// What failed.
        source: TableMapError,
    },
    /// An inner map's fd could not be duplicated, or its fdinfo read.
    #[error("Maglev inner map {map_id}: {source}")]
    Fd {
        /// Kernel id of the inner map.
        map_id: u32,
        /// The kernel's error.
        source: io::Error,
    },
}

/// What this process knows of each inner map it has read or written, by
/// kernel map id. Ids are allocated cyclically (2^31 before one comes back), so a
/// cached id that is still in the outer map is still the same table.
#[derive(Default)]
struct TableCache(HashMap<u32, Known>);

/// What the cache knows of one inner map.
#[derive(Clone, Copy)]
struct Known {
    /// Digest of its ring; `None`: not a table of this layout.
    digest: Option<u64>,
    /// Its kernel memory, bytes (`memlock` in its fdinfo).
    bytes: u64,
}

/// The kernel's memory account of `map` (`memlock:` in its fdinfo).
fn memlock(map: &MapData, map_id: u32) -> Result<u64, TableSyncError> {
    let fd = map.fd().as_fd().as_raw_fd();
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .map_err(|source| TableSyncError::Fd { map_id, source })?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("memlock:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0))
}

/// A digest of a table's slots: a multiply-rotate mix of every pair of
/// slots (64 bits at a time) and the length. Not for adversarial input (the
/// tables are our own Maglev output); two different tables of one service
/// colliding is a 2^-64 event, and would only keep the old table.
pub fn digest(table: &[u32]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (table.len() as u64).wrapping_mul(K);
    for pair in table.chunks(2) {
        let word = u64::from(pair[0]) | (u64::from(pair.get(1).copied().unwrap_or(0)) << 32);
        h = (h ^ word).wrapping_mul(K).rotate_left(29);
    }
    h ^ (h >> 32)
}

static CACHE: Mutex<Option<TableCache>> = Mutex::new(None);

/// What the sync did and what the tables now hold.
#[derive(Debug, Default)]
pub struct TableSync {
    /// Outer-map entries added, pointed at another table, removed.
    pub changes: Changes,
    /// Inner maps created by this sync.
    pub maps_created: usize,
}

/// Reads the outer map and remembers, per service id, its inner map.
pub struct OuterState {
    /// Service id → inner map id.
    current: BTreeMap<u32, u32>,
}

impl OuterState {
    /// A batched read of the outer map `outer`.
    pub fn read(outer: &MapData) -> Result<Self, TableSyncError> {
        let pairs = batch::lookup_all::<u32, u32>(outer.fd().as_fd())?;
        Ok(Self {
            current: pairs.into_iter().collect(),
        })
    }
}

/// The digest of inner map `map_id`'s table (`None`: another layout),
/// from the cache or read once.
fn content(cache: &mut TableCache, map_id: u32) -> Result<Option<u64>, TableSyncError> {
    if let Some(known) = cache.0.get(&map_id) {
        return Ok(known.digest);
    }
    let err = |source| TableSyncError::Table { map_id, source };
    let map = MapData::from_id(map_id).map_err(|e| err(e.into()))?;
    let bytes = memlock(&map, map_id)?;
    let digest = table_map::read(map).map_err(err)?.map(|t| digest(&t));
    cache.0.insert(map_id, Known { digest, bytes });
    Ok(digest)
}

/// Digests of the wanted tables, each distinct table (one `Arc`) hashed once.
fn wanted_digests(wanted: &BTreeMap<u32, Arc<[u32]>>) -> BTreeMap<u32, u64> {
    let mut seen: HashMap<*const u32, u64> = HashMap::new();
    wanted
        .iter()
        .map(|(&id, table)| {
            let d = *seen.entry(table.as_ptr()).or_insert_with(|| digest(table));
            (id, d)
        })
        .collect()
}

/// Entries waiting for a batched update, with the fds they name kept open.
#[derive(Default)]
struct Pending {
    keys: Vec<u32>,
    fds: Vec<u32>,
    open: HashMap<u32, OwnedFd>,
}

impl Pending {
    fn flush(&mut self, outer: &MapData) -> Result<(), TableSyncError> {
        if !self.keys.is_empty() {
            batch::update(outer.fd().as_fd(), &self.keys, &self.fds)?;
        }
        self.keys.clear();
        self.fds.clear();
        self.open.clear();
        Ok(())
    }
}

/// Point every service id of `wanted` at an inner map holding its table
/// (non-empty tables only); removes nothing.
pub fn install(
    outer: &MapData,
    state: &mut OuterState,
    wanted: &BTreeMap<u32, Arc<[u32]>>,
) -> Result<TableSync, TableSyncError> {
    let mut guard = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cache = guard.get_or_insert_with(TableCache::default);
    let mut sync = TableSync::default();
    // Digest → inner map id for tables already in the outer map or made
    // now, so equal tables share a map (from the cache: nothing is read).
    let mut by_digest: Option<HashMap<u64, u32>> = None;
    let mut pending = Pending::default();
    let digests = wanted_digests(wanted);
    for (&id, table) in wanted {
        let want = digests[&id];
        let now = state.current.get(&id).copied();
        if let Some(map_id) = now
            && content(cache, map_id)? == Some(want)
        {
            continue;
        }
        let index = match &mut by_digest {
            Some(index) => index,
            None => by_digest.insert(digest_index(cache, &state.current)?),
        };
        let map_id = match index.get(&want) {
            Some(&map_id) => map_id,
            None => {
                let (map_id, bytes) = create(table, &mut pending)?;
                sync.maps_created += 1;
                let digest = Some(want);
                cache.0.insert(map_id, Known { digest, bytes });
                index.insert(want, map_id);
                map_id
            }
        };
        queue(&mut pending, id, map_id)?;
        match now {
            Some(_) => sync.changes.updated += 1,
            None => sync.changes.added += 1,
        }
        state.current.insert(id, map_id);
        if pending.keys.len() >= MAX_BATCH || pending.open.len() >= MAX_BATCH {
            pending.flush(outer)?;
        }
    }
    pending.flush(outer)?;
    Ok(sync)
}

/// Inner map ids by digest, for every table the outer map holds.
fn digest_index(
    cache: &mut TableCache,
    current: &BTreeMap<u32, u32>,
) -> Result<HashMap<u64, u32>, TableSyncError> {
    let mut index = HashMap::new();
    for &map_id in current.values().collect::<BTreeSet<_>>() {
        if let Some(d) = content(cache, map_id)? {
            index.entry(d).or_insert(map_id);
        }
    }
    Ok(index)
}

/// A new inner map holding `table`, kept open in `pending`; its kernel id
/// and memory.
fn create(table: &[u32], pending: &mut Pending) -> Result<(u32, u64), TableSyncError> {
    let err = |source| TableSyncError::Table { map_id: 0, source };
    let array = table_map::create(table).map_err(err)?;
    let map_id = array.map().info().map_err(|e| err(e.into()))?.id();
    let bytes = memlock(array.map(), map_id)?;
    pending.open.insert(map_id, owned(array.map(), map_id)?);
    Ok((map_id, bytes))
}

/// An fd of `map` that outlives it.
fn owned(map: &MapData, map_id: u32) -> Result<OwnedFd, TableSyncError> {
    map.fd()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|source| TableSyncError::Fd { map_id, source })
}

/// Queue `id` → inner map `map_id`, opening the map if this batch does not
/// hold it yet.
fn queue(pending: &mut Pending, id: u32, map_id: u32) -> Result<(), TableSyncError> {
    let fd = match pending.open.entry(map_id) {
        Entry::Occupied(open) => open.get().as_raw_fd(),
        Entry::Vacant(slot) => {
            let map = MapData::from_id(map_id).map_err(|e| TableSyncError::Table {
                map_id,
                source: e.into(),
            })?;
            slot.insert(owned(&map, map_id)?).as_raw_fd()
        }
    };
    pending.keys.push(id);
    pending.fds.push(u32::try_from(fd).unwrap_or(u32::MAX));
    Ok(())
}

/// Remove every service id not in `wanted`; returns how many, and leaves
/// in `state` what the outer map holds afterwards.
pub fn remove_unwanted(
    outer: &MapData,
    state: &mut OuterState,
    wanted: &BTreeMap<u32, Arc<[u32]>>,
) -> Result<usize, TableSyncError> {
    let stale: Vec<u32> = state
        .current
        .keys()
        .copied()
        .filter(|id| !wanted.contains_key(id))
        .collect();
    for chunk in stale.chunks(MAX_BATCH * 16) {
        batch::delete(outer.fd().as_fd(), chunk)?;
    }
    state.current.retain(|id, _| wanted.contains_key(id));
    // Forget tables no longer held: their ids may be freed.
    let held: BTreeSet<u32> = state.current.values().copied().collect();
    let mut guard = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(cache) = guard.as_mut() {
        cache.0.retain(|map_id, _| held.contains(map_id));
    }
    Ok(stale.len())
}

impl OuterState {
    /// Service id → kernel id of its inner map.
    pub fn inner_map_ids(&self) -> &BTreeMap<u32, u32> {
        &self.current
    }

    /// Distinct inner maps the outer map holds.
    pub fn maps_held(&self) -> usize {
        self.current.values().collect::<BTreeSet<_>>().len()
    }

    /// Kernel memory of the held inner maps, bytes (the kernel's own
    /// account, `memlock` in each one's fdinfo; known from the sync for
    /// every map it looked at).
    pub fn kernel_bytes(&self) -> Result<u64, TableSyncError> {
        let guard = CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut total = 0;
        for &map_id in self.current.values().collect::<BTreeSet<_>>() {
            total += match guard.as_ref().and_then(|c| c.0.get(&map_id)) {
                Some(known) => known.bytes,
                None => {
                    let map = MapData::from_id(map_id).map_err(|e| TableSyncError::Table {
                        map_id,
                        source: e.into(),
                    })?;
                    memlock(&map, map_id)?
                }
            };
        }
        Ok(total)
    }
}
