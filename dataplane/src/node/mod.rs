//! One node's data plane as a whole: the desired state that `shoal dp apply`
//! and the agent hand over, and the apply that reconciles the overlay and
//! the load balancer with it. Above [`crate::overlay`] and [`crate::lb`],
//! which see their parts of the state through borrowed views.

mod apply;
mod state;

pub use apply::{ApplyError, ApplyReport, apply, apply_services};
pub use state::{DesiredState, StateError};
