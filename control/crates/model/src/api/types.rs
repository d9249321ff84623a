//! Request and response bodies of the daemon API.

use serde::{Deserialize, Serialize};

use crate::cluster::NodeRecord;

/// Body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a human.
    pub message: String,
}

/// Whether this node is in a swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SwarmState {
    /// Not part of a swarm.
    Inactive,
    /// Part of a swarm and serving.
    Active,
    /// An autolocked manager waiting for `swarm unlock`.
    Locked,
}

/// `GET /swarm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmInfo {
    /// Local swarm state.
    pub state: SwarmState,
    /// This node's ID (when in a swarm).
    pub node_id: Option<String>,
    /// This node's name.
    pub node_name: String,
    /// This node's role (when in a swarm).
    pub role: Option<String>,
    /// The cluster ID.
    pub cluster_id: Option<String>,
    /// This node's advertised control address.
    pub node_addr: Option<String>,
    /// Managers in the swarm (managers only).
    pub managers: Option<usize>,
    /// Nodes in the swarm (managers only).
    pub nodes: Option<usize>,
    /// Whether autolock is on (managers only).
    pub autolock: Option<bool>,
    /// Nodes' heartbeat period, milliseconds (managers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_period_ms: Option<u64>,
}

/// `POST /swarm/init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitRequest {
    /// `--advertise-addr` (IP or IP:port); chosen from the interfaces if absent.
    pub advertise_addr: Option<String>,
    /// `--listen-addr` (IP:port).
    pub listen_addr: String,
    /// `--autolock`.
    pub autolock: bool,
    /// `--data-path-port`.
    pub data_path_port: Option<u16>,
    /// `--cert-expiry`, seconds.
    pub cert_expiry_secs: Option<u64>,
}

/// Answer to `POST /swarm/init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitResponse {
    /// The new node's ID.
    pub node_id: String,
    /// The worker join token.
    pub worker_token: String,
    /// Address to join at.
    pub manager_addr: String,
    /// The unlock key, with `--autolock`.
    pub unlock_key: Option<String>,
}

/// `POST /swarm/join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// A manager's `host:port`.
    pub remote_addr: String,
    /// The join token.
    pub token: String,
    /// `--advertise-addr`.
    pub advertise_addr: Option<String>,
    /// `--listen-addr`.
    pub listen_addr: String,
}

/// Answer to `POST /swarm/join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// The node's ID.
    pub node_id: String,
    /// `manager` or `worker`.
    pub role: String,
}

/// `GET /swarm/join-token/{role}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTokenResponse {
    /// `worker` or `manager`.
    pub role: String,
    /// The token.
    pub token: String,
    /// The address to join at.
    pub manager_addr: String,
}

/// `POST /swarm/unlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockRequest {
    /// The `SWMKEY-1-...` key.
    pub key: String,
}

/// `swarm update`: the settings to change (unset: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SwarmUpdateRequest {
    /// `--autolock[=false]`: lock managers' data keys with an unlock key.
    #[serde(default)]
    pub autolock: Option<bool>,
    /// `--cert-expiry`: lifetime of node certificates issued from now on,
    /// seconds.
    #[serde(default)]
    pub cert_expiry_secs: Option<u64>,
    /// `--key-rotation`: seconds between scheduled rotations of the
    /// encrypted networks' key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_rotation_secs: Option<u64>,
    /// `--dispatcher-heartbeat`: nodes' heartbeat period, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_period_ms: Option<u64>,
}

/// `GET /swarm/unlockkey` and its rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockKeyResponse {
    /// The unlock key; `None` when autolock is off.
    pub key: Option<String>,
}

/// A node as `node ls` / `node inspect` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    /// The stored record.
    #[serde(flatten)]
    pub record: NodeRecord,
    /// Leader / Reachable / Unreachable for managers.
    pub manager_status: Option<String>,
    /// Whether this is the node answering.
    pub is_self: bool,
}

/// A named volume of a node (`volume ls` / `inspect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeView {
    /// Its name.
    pub name: String,
    /// Always `local`.
    pub driver: String,
    /// Where its data lives on the node.
    pub mountpoint: String,
    /// When it was created (seconds since the epoch).
    pub created_at: u64,
}
