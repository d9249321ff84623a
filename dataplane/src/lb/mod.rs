//! Service load balancing and the ingress routing mesh, userspace half:
//! Maglev tables, the services part of the desired state (seen through an
//! [`LbView`]), and reconciling the pinned service, backend and Maglev maps.

mod apply;
pub mod ids;
pub mod maglev;
pub mod plan;
pub mod state;
pub mod table_map;
pub mod tables;
mod validate;
mod view;

pub use apply::{LbApplyError, LbReport, apply_to};
pub use view::LbView;
