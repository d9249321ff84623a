//! The cluster's state as kept in the raft store, and the pure rules that
//! govern changes to it (who may be demoted, what an update does, how a
//! node reference resolves). The daemon does I/O; this module decides.
//!
//! Tables: [`NODES`] (node ID → [`NodeRecord`]), [`CLUSTER`] (one row,
//! [`CLUSTER_KEY`] → [`ClusterRecord`]: the CA with its key, the join
//! secrets, autolock and its unlock key) and [`REMOVED`] (node ID →
//! removal time): a removed node's certificate is refused by every manager.
//! The node model itself lives in [`crate::node`]; it is re-exported here.

mod error;
mod model;
mod objects;
mod overlay_keys;
mod rules;

pub use crate::node::{Availability, NodeRecord, NodeRole, NodeStatus};
pub use error::ClusterError;
pub use model::{
    CLUSTER, CLUSTER_KEY, ClusterRecord, DEFAULT_HEARTBEAT_PERIOD_MS, HEARTBEAT_PERIOD_RANGE_MS,
    NODES, REMOVED, now_secs,
};
pub use objects::{
    ALLOCATOR, ALLOCATOR_KEY, CONFIGS, ConfigRecord, ENDPOINTS, INGRESS_NETWORK, NETWORKS,
    NetworkRecord, SECRETS, SERVICES, SecretRecord, ServiceEndpoint, TASKS, VirtualIp,
};
pub use overlay_keys::{
    DEFAULT_KEY_ROTATION_SECS, OVERLAY_KEYS, OVERLAY_KEYS_KEY, OverlayKey, OverlayKeyRing,
    RotationCause, random_key,
};
pub use rules::{
    LabelChange, NodeUpdate, apply_update, check_demote, check_leave, manager_status, quorum,
    resolve_node,
};

#[cfg(test)]
mod tests;
