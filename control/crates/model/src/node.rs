//! The node model: one node of the swarm as stored ([`NodeRecord`]) and the
//! vocabulary every crate uses for it: its [`NodeRole`], the operator's
//! [`Availability`] setting and its heartbeat [`NodeStatus`].
//!
//! These are the only definitions: the cluster table rows, the REST API,
//! the ctl protocol, the scheduler's [`SchedNode`](crate::spec::SchedNode)
//! (built `From<&NodeRecord>`) and the CA (whose `Role` is [`NodeRole`])
//! all use them. Every enum serializes as its lowercase name (`"manager"`,
//! `"drain"`, `"ready"`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The role of a node: stored in its [`NodeRecord`] and fixed in its
/// certificate by the CA (the certificate carries the one in force).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Runs raft, the CA and the manager APIs (and tasks).
    Manager,
    /// Runs tasks only, talks to the dispatcher only.
    Worker,
}

impl NodeRole {
    /// `manager` or `worker`: the name the CLI, the API and placement
    /// constraints (`node.role==manager`) use.
    pub const fn as_str(self) -> &'static str {
        match self {
            NodeRole::Manager => "manager",
            NodeRole::Worker => "worker",
        }
    }
}

impl fmt::Display for NodeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operator's availability setting: whether the scheduler may place
/// tasks on a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// New tasks may be placed.
    #[default]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    /// Whether its heartbeats arrive; a node that joined but never beat
    /// ([`NodeStatus::Unknown`]) is not ready.
    pub const fn is_ready(self) -> bool {
        matches!(self, NodeStatus::Ready)
    }
}

/// What a node has for tasks to reserve, as it reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeResources {
    /// Its CPUs, in billionths of a CPU.
    pub nano_cpus: u64,
    /// Its memory, bytes.
    pub memory_bytes: u64,
}

/// One node of the swarm: a row of the nodes table
/// ([`cluster::NODES`](crate::cluster::NODES)).
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
    /// Its capacity as it last reported it (absent until its first
    /// heartbeat: reservations then never keep a task off it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<NodeResources>,
    /// Its WireGuard identity for encrypted networks (absent: a node from
    /// before shoal had them; encrypted traffic to it is dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wireguard: Option<NodeWireGuard>,
}

/// A node's WireGuard identity: its public key and port. The private key
/// never leaves the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeWireGuard {
    /// Public key, base64 (as `wg` writes it).
    pub public_key: String,
    /// UDP port of its WireGuard endpoint (on its underlay address).
    pub port: u16,
}

#[cfg(test)]
mod tests;
