//! [`NodeView`]: what the scheduler and orchestrator know of a node.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Resources;

/// A node as scheduling sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// Node ID.
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// Manager or worker.
    pub role: NodeRole,
    /// What the operator allows on it.
    pub availability: NodeAvailability,
    /// Whether it is connected.
    pub status: NodeStatus,
    /// Operator-set labels (`node update --label-add`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Total resources tasks may reserve.
    #[serde(default)]
    pub resources: Resources,
}

/// Role of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// Runs raft and the manager components (and tasks).
    Manager,
    /// Runs tasks only.
    Worker,
}

impl NodeRole {
    /// `manager` or `worker`.
    pub fn name(self) -> &'static str {
        match self {
            NodeRole::Manager => "manager",
            NodeRole::Worker => "worker",
        }
    }
}

/// Operator's availability setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeAvailability {
    /// Takes new tasks.
    #[default]
    Active,
    /// Keeps its tasks, takes no new ones.
    Pause,
    /// Its tasks are moved elsewhere.
    Drain,
}

/// Connection status of a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Its agent has a live session.
    #[default]
    Ready,
    /// Its agent missed its heartbeats.
    Down,
}

impl NodeView {
    /// A ready, active worker without labels or resources (tests, benches).
    pub fn worker(id: &str) -> NodeView {
        NodeView {
            id: id.to_owned(),
            hostname: id.to_owned(),
            role: NodeRole::Worker,
            availability: NodeAvailability::Active,
            status: NodeStatus::Ready,
            labels: BTreeMap::new(),
            resources: Resources::default(),
        }
    }

    /// Whether it may take new tasks: ready and active.
    pub fn takes_new_tasks(&self) -> bool {
        self.status == NodeStatus::Ready && self.availability == NodeAvailability::Active
    }
}
