//! shoal's data-plane userspace: loads the eBPF programs embedded in the
//! binary, keeps their maps and links pinned under a per-node bpffs
//! directory, and reads the maps back for `shoal dp ...`.
//!
//! A node's state outlives any one process: the maps and links are pinned,
//! so a second `shoal` process (or a restarted daemon) finds them, and
//! traffic keeps flowing while no process holds them open.
//!
//! It owns a node's data plane: `node` (the desired state and the
//! whole-node apply) above `overlay` and `lb`, and `wg`, the userspace
//! WireGuard path (boringtun's Noise core) encrypted networks go through.
//! Of shoal's crates it may depend on `shoal-common` only; the agent and
//! the CLI depend on it.

pub mod attach;
pub mod iproute;
pub mod lb;
pub mod monitor;
pub mod node;
pub mod object;
pub mod overlay;
pub mod pins;
pub mod stats;
pub mod wg;

pub use attach::{AttachOutcome, Hook};
pub use pins::PinPaths;
pub use stats::{StatRow, StatsReport};
