//! Errors of the [`crate::cluster`] module.

/// Why a change to the cluster state is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// No node matches the reference.
    #[error("node {query} not found")]
    NodeNotFound {
        /// The ID, ID prefix or hostname given.
        query: String,
    },
    /// Several nodes match the reference.
    #[error("node {query} is ambiguous ({matches} matches)")]
    AmbiguousNode {
        /// The ID prefix or hostname given.
        query: String,
        /// How many nodes match.
        matches: usize,
    },
    /// `--availability` is not one of active, pause, drain.
    #[error("invalid availability {value:?}: expected active, pause or drain")]
    InvalidAvailability {
        /// The rejected value.
        value: String,
    },
    /// `--label-add` is not `key=value` with a non-empty key.
    #[error("invalid label {label:?}: expected key=value with a non-empty key")]
    InvalidLabel {
        /// The rejected label.
        label: String,
    },
    /// The only manager cannot be demoted or removed.
    #[error("cannot demote the last manager of the swarm")]
    LastManager,
    /// The change would leave fewer reachable managers than a quorum.
    #[error(
        "this would lose quorum: {reachable_after} of {total_after} managers would be reachable, {needed} needed"
    )]
    WouldLoseQuorum {
        /// Reachable managers after the change.
        reachable_after: usize,
        /// Managers after the change.
        total_after: usize,
        /// Quorum of `total_after`.
        needed: usize,
    },
    /// A manager leaving would break quorum (or erase the swarm).
    #[error(
        "this node is a manager: leaving leaves {reachable_after} of {total} managers reachable ({needed} needed for quorum); use --force to leave anyway"
    )]
    ManagerLeave {
        /// Reachable managers once this node is gone.
        reachable_after: usize,
        /// Managers in the swarm.
        total: usize,
        /// Quorum of `total`.
        needed: usize,
    },
    /// A node that is up cannot be removed without `--force`.
    #[error("node {node} is not down and cannot be removed; use --force to remove it anyway")]
    NodeNotDown {
        /// The node's hostname.
        node: String,
    },
    /// A manager must be demoted before it is removed.
    #[error("node {node} is a manager: demote it before removing it")]
    RemoveManager {
        /// The node's hostname.
        node: String,
    },
}
