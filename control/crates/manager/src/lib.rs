//! What managers run on the replicated store: the address and port
//! allocator ([`allocator`]), the scheduler ([`scheduler`]), the service
//! orchestrator ([`orchestrator`]), the dispatcher that builds each node's
//! assignment ([`dispatcher`]) and the manager loop and API operations that
//! drive them ([`manager`]). It may depend on `shoal-model` and
//! `shoal-raft`.

pub mod allocator;
pub mod dispatcher;
pub mod manager;
pub mod orchestrator;
pub mod scheduler;
