//! Stable ids for services and backends, derived from what the pinned maps
//! hold: an item keeps the id it has, a new item gets the lowest id no
//! current entry uses. No state file: a restarted daemon (or another
//! `shoal` process) reads the same maps and reaches the same answer.

use std::collections::{BTreeMap, BTreeSet};

/// The first id handed out: 0 stays unused so a zeroed slot never names a
/// real service or backend.
pub const FIRST_ID: u32 = 1;

/// Errors assigning ids.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    /// More items than the map holds.
    #[error("{wanted} {what} wanted, but the map holds at most {capacity}")]
    Exhausted {
        /// Services or backends.
        what: &'static str,
        /// How many were wanted (new and kept, plus entries still in use).
        wanted: usize,
        /// The map's capacity.
        capacity: u32,
    },
}

/// Ids for every `desired` key. `current` is what the maps hold (id →
/// key; a key held under several ids keeps the lowest). Ids of current
/// entries that are no longer desired are not handed out in the same run:
/// those entries are removed only after the new ones are written, and a
/// packet must never find a new service or backend under an old one's id.
pub fn assign<K: Ord + Clone>(
    current: &BTreeMap<u32, K>,
    desired: &BTreeSet<K>,
    what: &'static str,
    capacity: u32,
) -> Result<BTreeMap<K, u32>, IdError> {
    let mut kept: BTreeMap<K, u32> = BTreeMap::new();
    for (id, key) in current {
        if desired.contains(key) {
            kept.entry(key.clone()).or_insert(*id);
        }
    }
    let in_use: BTreeSet<u32> = current.keys().copied().collect();
    let wanted = desired.len() + in_use.len() - kept.len();
    if wanted > capacity as usize {
        return Err(IdError::Exhausted {
            what,
            wanted,
            capacity,
        });
    }
    let mut free = (FIRST_ID..).filter(|id| !in_use.contains(id));
    let mut out = kept.clone();
    for key in desired {
        if !kept.contains_key(key) {
            let id = free.next().unwrap_or(u32::MAX);
            out.insert(key.clone(), id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(keys: &[&'static str]) -> BTreeSet<&'static str> {
        keys.iter().copied().collect()
    }

    fn map(entries: &[(u32, &'static str)]) -> BTreeMap<u32, &'static str> {
        entries.iter().copied().collect()
    }

    #[test]
    fn a_fresh_node_numbers_from_one_in_key_order() {
        let ids = assign(&map(&[]), &set(&["b", "a", "c"]), "x", 10).unwrap();
        assert_eq!(ids, [("a", 1), ("b", 2), ("c", 3)].into_iter().collect());
    }

    #[test]
    fn existing_keys_keep_their_ids() {
        let current = map(&[(7, "web"), (2, "db")]);
        let ids = assign(&current, &set(&["db", "web", "api"]), "x", 10).unwrap();
        assert_eq!(ids["web"], 7);
        assert_eq!(ids["db"], 2);
        assert_eq!(ids["api"], 1, "lowest id no entry uses");
    }

    #[test]
    fn ids_of_entries_being_removed_are_not_reused_in_the_same_run() {
        let current = map(&[(1, "old"), (2, "kept")]);
        let ids = assign(&current, &set(&["kept", "new"]), "x", 10).unwrap();
        assert_eq!(ids["new"], 3);
        // The next run, with "old" gone from the maps, may reuse 1.
        let next = map(&[(2, "kept"), (3, "new")]);
        let ids = assign(&next, &set(&["kept", "new", "newer"]), "x", 10).unwrap();
        assert_eq!(ids["newer"], 1);
    }

    #[test]
    fn applying_the_same_set_twice_changes_no_id() {
        let first = assign(&map(&[]), &set(&["a", "b", "c"]), "x", 10).unwrap();
        let stored: BTreeMap<u32, &str> = first.iter().map(|(k, v)| (*v, *k)).collect();
        let second = assign(&stored, &set(&["c", "a", "b"]), "x", 10).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn a_key_stored_twice_keeps_its_lowest_id() {
        let ids = assign(&map(&[(4, "a"), (9, "a")]), &set(&["a", "b"]), "x", 10).unwrap();
        assert_eq!(ids["a"], 4);
        assert_eq!(ids["b"], 1);
    }

    #[test]
    fn more_than_the_capacity_is_refused() {
        let err = assign(&map(&[(1, "old")]), &set(&["a", "b"]), "services", 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "3 services wanted, but the map holds at most 2"
        );
    }
}
