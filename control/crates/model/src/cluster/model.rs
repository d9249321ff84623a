//! Rows of the cluster tables.

use serde::{Deserialize, Serialize};

/// Table of nodes: node ID → [`NodeRecord`](crate::node::NodeRecord).
pub const NODES: &str = "nodes";
/// Table holding the one [`ClusterRecord`].
pub const CLUSTER: &str = "cluster";
/// Key of the [`ClusterRecord`] in [`CLUSTER`].
pub const CLUSTER_KEY: &str = "cluster";
/// Table of removed nodes: node ID → removal time (seconds since the epoch).
pub const REMOVED: &str = "removed";

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
    /// Seconds between scheduled rotations of the encrypted networks' key
    /// (`swarm update --key-rotation`).
    #[serde(default = "default_key_rotation")]
    pub key_rotation_secs: u64,
    /// How often nodes send a heartbeat, milliseconds (`swarm update
    /// --dispatcher-heartbeat`); a node silent for 3.5 periods is down.
    #[serde(default = "default_heartbeat_period")]
    pub heartbeat_period_ms: u64,
    /// When the swarm was created (seconds since the epoch).
    pub created_at: u64,
}

fn default_heartbeat_period() -> u64 {
    DEFAULT_HEARTBEAT_PERIOD_MS
}

/// Nodes' heartbeat period unless `swarm update --dispatcher-heartbeat`
/// sets one: 1 s (Swarm's is 5 s; shoal notices a dead node sooner).
pub const DEFAULT_HEARTBEAT_PERIOD_MS: u64 = 1000;
/// Shortest and longest heartbeat period `swarm update` accepts.
pub const HEARTBEAT_PERIOD_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=3_600_000;

fn default_key_rotation() -> u64 {
    super::DEFAULT_KEY_ROTATION_SECS
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
