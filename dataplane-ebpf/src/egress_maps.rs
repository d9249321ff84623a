//! Egress maps (names and capacities: `shoal_common::maps`).

use aya_ebpf::{
    macros::map,
    maps::{HashMap, LruHashMap},
};
use shoal_common::{
    egress::{SnatEntry, SnatRevEntry},
    lb::FlowKey,
    maps,
};

/// VNI → egress allowed (absent: an `--internal` network).
#[map(name = "shoal_egress_v1")]
static SHOAL_EGRESS_V1: HashMap<u32, u32> = HashMap::pinned(maps::NETWORKS_CAPACITY, 0);

/// Task → outside flows: their NAT port and TCP state.
#[map(name = "shoal_snat_v1")]
pub static SHOAL_SNAT_V1: LruHashMap<FlowKey, SnatEntry> =
    LruHashMap::pinned(maps::SNAT_CAPACITY, 0);

/// Outside → node address and NAT port: the task the reply is for.
#[map(name = "shoal_snatrev_v1")]
pub static SHOAL_SNATREV_V1: LruHashMap<FlowKey, SnatRevEntry> =
    LruHashMap::pinned(maps::SNAT_CAPACITY, 0);

/// Whether tasks of network `vni` may reach outside the cluster.
#[inline(always)]
pub fn egress_allowed(vni: u32) -> bool {
    // SAFETY: only the presence of the entry is used.
    unsafe { SHOAL_EGRESS_V1.get(vni).is_some() }
}

/// The reverse entry at `key`, copied out.
#[inline(always)]
pub fn reverse(key: &FlowKey) -> Option<SnatRevEntry> {
    // SAFETY: the value is copied out immediately.
    unsafe { SHOAL_SNATREV_V1.get(key).copied() }
}
