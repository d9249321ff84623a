//! The overlay: its part of the desired state, its reconciliation and the
//! pinned tables. The whole node's state and apply sit above, in `node`,
//! which builds an [`OverlayView`] of it.

mod apply;
pub mod state;
pub mod tables;
mod view;

pub use apply::{
    OverlayApplyError, OverlayReport, apply, host_veth_name, remove_stale_task_ifaces,
};
pub use view::OverlayView;
