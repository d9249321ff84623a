//! The overlay: desired state, reconciliation and the pinned tables.

mod apply;
pub mod state;
pub mod tables;

pub use apply::{ApplyError, ApplyReport, apply, host_veth_name};
pub use state::DesiredState;
