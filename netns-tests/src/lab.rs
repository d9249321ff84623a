//! The lab: namespaces joined by a bridge, with per-node state directories.
//!
//! Layout (for lab id `shlab12c`):
//! - `shlab12c-sw`: the switch namespace, holding bridge `br0`;
//! - `shlab12c-n<i>`: node `i` (1-based), with veth `eth0` at 198.18.0.(10+i)/24
//!   whose peer `n<i>` sits in the switch namespace, enslaved to `br0`;
//! - `shlab12c-<name>`: optional client namespaces at 198.18.0.(200+k)/24.
//! - `shlab12c-<name>`: optional bare namespaces (tasks) from [`Lab::add_netns`],
//!   with only `lo`, for an overlay to plug into.

mod builder;
pub mod cmd;
mod lab_impl;
pub mod naming;
mod node;
pub mod raw;
mod teardown;

pub use builder::LabBuilder;
pub use lab_impl::{Lab, LabError};
pub use naming::{LabId, NameError};
pub use node::{Node, NodeKind, Spawned, shoal_bin};
pub use teardown::{
    DEFAULT_BPFFS, SHOAL_PIN_DIR, TeardownError, cleanup_by_id, lab_netns, list_labs, list_netns,
    pin_dir,
};
