//! Service load balancing and the ingress routing mesh, userspace half:
//! Maglev tables, the services part of the desired state, and reconciling
//! the pinned service, backend and Maglev maps.

pub mod maglev;
pub mod state;
