//! Rows of the cluster tables.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Table of nodes: node ID → [`NodeRecord`].
pub const NODES: &str = "nodes";
/// Table holding the one [`ClusterRecord`].
pub const CLUSTER: &str = "cluster";
/// Key of the [`ClusterRecord`] in [`CLUSTER`].
pub const CLUSTER_KEY: &str = "cluster";
/// Table of removed nodes: node ID → removal time (seconds since the epoch).
pub const REMOVED: &str = "removed";

/// A node's role as stored (the certificate carries the one in force).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Runs raft and the manager APIs.
    Manager,
    /// Runs tasks only.
    Worker,
}

/// Whether the scheduler may place tasks on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// New tasks may be placed.
    Active,
    /// Running tasks stay, no new ones.
    Pause,
    /// Tasks are moved away.
    Drain,
}

impl Availability {
    /// The name the CLI and the API use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Availability::Active => "active",
            Availability::Pause => "pause",
            Availability::Drain => "drain",
        }
    }
}

/// Whether a node's heartbeats reach the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    /// Joined, no heartbeat seen yet.
    Unknown,
    /// Heartbeats arrive.
    Ready,
    /// Heartbeats stopped (about three missed).
    Down,
}

impl NodeStatus {
    /// The name the CLI and the API use.
    pub const fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Unknown => "unknown",
            NodeStatus::Ready => "ready",
            NodeStatus::Down => "down",
        }
    }
}

/// One node of the swarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Node ID (also the certificate's CN).
    pub id: String,
    /// Raft ID, used while the node is a manager.
    pub raft_id: u64,
    /// The node's name.
    pub hostname: String,
    /// The role in force (the one in its certificate).
    pub role: NodeRole,
    /// The role it should have (differs while a promotion or demotion runs).
    pub desired_role: NodeRole,
    /// Scheduling availability.
    pub availability: Availability,
    /// Operator labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Advertised `ip:port` of its control listener (managers dial it).
    pub addr: String,
    /// Heartbeat status.
    pub status: NodeStatus,
    /// shoal version the node runs.
    pub engine_version: String,
    /// Expiry of its current certificate (seconds since the epoch).
    #[serde(default)]
    pub cert_not_after: i64,
    /// When it joined (seconds since the epoch).
    pub created_at: u64,
}

/// The swarm itself: CA, join secrets, settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// Cluster ID (the CA certificate's O).
    pub id: String,
    /// Root CA certificate, PEM.
    pub ca_cert_pem: String,
    /// Root CA key, PEM: any manager can sign (sealed at rest like all rows).
    pub ca_key_pem: String,
    /// Current worker join secret.
    pub worker_secret: String,
    /// Current manager join secret.
    pub manager_secret: String,
    /// Whether managers keep their data key wrapped by the unlock key.
    pub autolock: bool,
    /// The unlock key (`SWMKEY-1-…`) while autolock is on.
    pub unlock_key: Option<String>,
    /// Lifetime of node certificates, seconds.
    pub cert_expiry_secs: u64,
    /// UDP port of the overlay data path.
    pub data_path_port: u16,
    /// When the swarm was created (seconds since the epoch).
    pub created_at: u64,
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
