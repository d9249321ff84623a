//! The vocabulary of shoal's control plane: the node model ([`node`]: a
//! node's record, role, availability and status), service and task specs
//! ([`spec`]), the rows of the cluster tables ([`cluster`]), the REST API's
//! request and response bodies ([`api`]), object IDs and base36 ([`ids`]),
//! what a node is assigned to run ([`assignment`]) and error chains
//! ([`error_chain`]). Plain data and the rules on it: it depends on no other
//! shoal crate, and every other control crate may depend on it.

pub mod api;
pub mod assignment;
pub mod assignment_update;
pub mod cluster;
pub mod error_chain;
pub mod ids;
pub mod node;
pub mod spec;

#[cfg(feature = "test-support")]
pub mod test_support;
