//! Map names and capacities: the one place they are defined. Each line says
//! key → value and who writes it. A layout change gets a new `_vN` name so
//! old and new pins can coexist during an upgrade. Kernel map names are at
//! most 15 bytes.

use crate::stats::Stat;

/// `u32 slot` ([`Stat::slot`]) → per-CPU [`crate::Counter`]; written by every
/// program, read by `shoal dp stats`.
pub const STATS: &str = "shoal_stats_v1";
/// Slots in [`STATS`].
pub const STATS_CAPACITY: u32 = Stat::SLOTS;

/// Program names as the loader finds them in the object file.
pub mod programs {
    /// XDP on the underlay NIC: parse, classify, count.
    pub const UNDERLAY_XDP: &str = "shoal_underlay_xdp";
    /// The same logic at TC ingress (TCX), for NICs where XDP does not pay.
    pub const UNDERLAY_TC: &str = "shoal_underlay_tc";
}
