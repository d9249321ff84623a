//! shoal's control plane: the daemon ([`daemon`]) and the API client
//! ([`api_client`]), and the lower control crates re-exported under their
//! old module names.
//!
//! It owns the daemon (REST API, node roles, leader calls, the control
//! listener) and, in its binary, the `shoal` CLI. It is the top of the
//! control plane and may depend on every crate below it; nothing in the
//! workspace depends on it (the labs and benchmarks run its binary).

pub mod api_client;
pub mod daemon;

pub use shoal_agent as agent;
pub use shoal_ctl as ctl;
pub use shoal_manager::{allocator, dispatcher, manager, orchestrator, scheduler};
pub use shoal_model::{assignment, assignment_update, cluster, error_chain, ids, node, spec};
pub use shoal_raft as raft;
pub use shoal_runtime as runtime;
pub use shoal_security::{ca, seal, tls, token};

/// The daemon's REST/JSON API: the bodies ([`shoal_model::api`]) and the
/// client the CLI uses.
pub mod api {
    pub use crate::api_client::{ApiClient, ApiError};
    pub use shoal_model::api::*;
}
