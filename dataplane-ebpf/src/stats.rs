//! Per-CPU counters. Counting never fails a packet: a slot outside the map
//! is a build-time mistake that the fixtures catch, not a runtime drop.

use aya_ebpf::{macros::map, maps::PerCpuArray};
use shoal_common::{Counter, Stat, maps};

/// `u32 slot` → per-CPU packets/bytes; see `shoal_common::maps::STATS`.
#[map(name = "shoal_stats_v1")]
static SHOAL_STATS_V1: PerCpuArray<Counter> = PerCpuArray::pinned(maps::STATS_CAPACITY, 0);

/// Add one packet of `bytes` to `stat`.
#[inline(always)]
pub fn count(stat: Stat, bytes: u32) {
    if let Some(counter) = SHOAL_STATS_V1.get_ptr_mut(stat.slot()) {
        // SAFETY: per-CPU slot, no other writer on this CPU while we run.
        unsafe {
            (*counter).packets += 1;
            (*counter).bytes += u64::from(bytes);
        }
    }
}
