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

/// The forward key of the flow that reverse entry `rev`, found at `rkey`,
/// belongs to.
#[inline(always)]
pub fn forward_of(rkey: &FlowKey, rev: &SnatRevEntry) -> FlowKey {
    FlowKey {
        src: rev.task_ip,
        dst: rkey.src,
        sport: rev.task_port,
        dport: rkey.sport,
        proto: rkey.proto,
        _pad: [0; 3],
        vni: rev.vni,
    }
}

/// The reverse entry at `rkey` if a live forward flow still holds its NAT
/// port (a reverse entry can outlive its flow until the LRU drops it).
#[inline(always)]
pub fn live_reverse(rkey: &FlowKey, now: u64) -> Option<SnatRevEntry> {
    let rev = reverse(rkey)?;
    // SAFETY: the value is copied out immediately.
    let entry = unsafe { SHOAL_SNAT_V1.get(forward_of(rkey, &rev)).copied() }?;
    let live = entry.nat_port == rkey.dport
        && !crate::lb_maps::lb_config().expired(entry.state, entry.last_seen_ns, now);
    live.then_some(rev)
}
