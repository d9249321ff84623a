//! The manager: turns the service tables into running work.
//!
//! [`run`] is the loop every manager runs; it acts while its manager leads.
//! Each pass ([`run_pass`], pure) loads the tables from a store snapshot
//! and, in order:
//! - creates the allocator with the `ingress` network on a new swarm, and
//!   keeps network rows and the allocator in step;
//! - allocates endpoints: one VIP per network of a service (ingress too
//!   when it publishes mesh ports) and its published ports, again whenever
//!   the service version changes; releases those of removed services;
//! - orchestrates: fills slots, restarts, rolling updates and rollbacks
//!   ([`crate::orchestrator`]), retires tasks of removed services;
//! - allocates task addresses (New → Pending, or Pending with the reason
//!   when it fails) and takes back those of ended tasks;
//! - schedules pending tasks ([`crate::scheduler`]);
//! - keeps at most [`TASK_HISTORY_LIMIT`] ended tasks per slot;
//! - rotates the encrypted networks' key when due ([`rotate_if_due`]);
//!
//! and proposes only the rows that changed, in one batch.
//!
//! [`api`] holds the service, network and secret operations the leader
//! runs for the REST API, [`record_reports`] the agents' task states, and
//! [`views`] what the API shows.

mod allocate;
pub mod api;
mod driver;
mod error;
mod history;
mod keyring;
mod nodes;
mod orchestrate;
mod outcome;
mod pass;
mod report_queue;
mod schedule;
mod status;
mod tables;
pub mod views;

pub use allocate::{ensure_allocator, network_record, publishes_ingress, service_networks};
pub use driver::{now, pass_once, run};
pub use error::ManagerError;
pub use history::TASK_HISTORY_LIMIT;
pub use keyring::{rotate_if_due, rotate_now};
pub use nodes::views as node_views;
pub use outcome::PassOutcome;
pub use pass::run_pass;
pub use report_queue::{ReportQueue, record_reports};
pub use status::apply_report;
pub use tables::{ClusterTables, put, resolve};

use shoal_raft::Store;

/// What the manager needs of the manager node it runs on.
pub trait Leadership: Send + Sync + 'static {
    /// The replicated store.
    fn store(&self) -> &Store;
    /// Whether this manager leads now.
    fn is_leader(&self) -> bool;
    /// The lock serialising read-modify-write changes on the leader (API
    /// writes and passes must not interleave).
    fn writes(&self) -> &tokio::sync::Mutex<()>;
    /// Task reports waiting for the write lock (committed together).
    fn reports(&self) -> &ReportQueue;
}

#[cfg(test)]
mod tests;
