//! shoal control plane library: security foundations (CA, join tokens, TLS, sealing).

pub mod agent;
pub mod allocator;
pub mod api;
pub mod api_client;
pub mod assignment;
pub mod ca;
pub mod cluster;
pub mod ctl;
pub mod daemon;
pub mod dispatcher;
pub mod error_chain;
pub mod ids;
pub mod manager;
pub mod orchestrator;
pub mod raft;
pub mod runtime;
pub mod scheduler;
pub mod seal;
pub mod spec;
pub mod tls;
pub mod token;

#[cfg(test)]
mod test_support;
