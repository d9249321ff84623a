//! The dispatcher: what each node must run and load-balance.
//!
//! [`Assignment`] is everything an agent needs, built from the store by a
//! manager for one node ([`build`]): its own tasks (with their secrets), the
//! networks, where every other running task lives, and the services to
//! load-balance with their backends. A node asks for it with
//! `CtlRequest::Assignments` (in `shoal-ctl`); an unchanged assignment is held
//! back until something changes (long poll), so agents learn of changes
//! at once without streaming diffs.

mod build;
mod poll;

pub use build::{ASSIGNMENT_TABLES, DispatchError, build, underlay_ip};
pub use poll::next_assignment;
pub use shoal_model::assignment::{
    AssignedConfig, AssignedSecret, AssignedTask, Assignment, LbBackend, LbService, RemoteTask,
};

#[cfg(test)]
mod tests;
