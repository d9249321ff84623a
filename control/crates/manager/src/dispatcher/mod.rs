//! The dispatcher: what each node must run and load-balance.
//!
//! [`Assignment`] is everything an agent needs, built from the store by a
//! manager for one node ([`build`]): its own tasks (with their secrets), the
//! networks they are on (and the mesh's), where the other tasks on those
//! networks live, and the services reachable there with their backends —
//! only what the node's own tasks reach, so its state does not grow with
//! the cluster. A node asks for it with
//! `CtlRequest::Assignments` (in `shoal-ctl`); an unchanged assignment is held
//! back until something changes (long poll), so agents learn of changes
//! at once without streaming diffs.

mod build;
mod partners;
mod poll;
mod view;

pub use build::{ASSIGNMENT_TABLES, assemble, build};
pub use poll::next_assignment;
pub use shoal_model::assignment::{
    AssignedConfig, AssignedSecret, AssignedTask, Assignment, LbBackend, LbService, RemoteTask,
};
pub use view::{DispatchError, View, ViewCache, underlay_ip};

#[cfg(test)]
mod tests;
