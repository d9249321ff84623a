//! Types shared by shoal's eBPF programs and its userspace: map keys, values,
//! counters and the drop-reason codes.
//!
//! Every type that crosses the kernel boundary is `#[repr(C)]`, `Copy`, has
//! explicit padding and a compile-time size assertion, and carries no `bool`,
//! `Option` or data-carrying enum (DESIGN.md §5.1).
// Tests link std for the harness; the crate itself is core-only.
#![cfg_attr(not(test), no_std)]

pub mod drop;
pub mod egress;
pub mod lb;
pub mod maps;
pub mod monitor;
pub mod overlay;
pub mod stats;

pub use drop::DropReason;
pub use stats::{Counter, Stat};
