//! Node records as the scheduler and orchestrator see them.

use std::collections::BTreeMap;

use shoal_model::cluster::{Availability, NodeRecord, NodeRole, NodeStatus};
use shoal_model::spec::{self, NodeAvailability, NodeView, Resources};

/// What a node offers to reservations. Nodes do not report their capacity
/// yet, so reservations never keep a task off a node.
const UNMEASURED: Resources = Resources {
    nano_cpus: u64::MAX,
    memory_bytes: u64::MAX,
};

/// The scheduling view of every node: ready only when its heartbeats
/// arrive (a node that joined but never beat counts as down).
pub fn views(nodes: &BTreeMap<String, NodeRecord>) -> Vec<NodeView> {
    nodes.values().map(view).collect()
}

/// The scheduling view of one node.
pub fn view(node: &NodeRecord) -> NodeView {
    NodeView {
        id: node.id.clone(),
        hostname: node.hostname.clone(),
        role: match node.role {
            NodeRole::Manager => spec::NodeRole::Manager,
            NodeRole::Worker => spec::NodeRole::Worker,
        },
        availability: match node.availability {
            Availability::Active => NodeAvailability::Active,
            Availability::Pause => NodeAvailability::Pause,
            Availability::Drain => NodeAvailability::Drain,
        },
        status: match node.status {
            NodeStatus::Ready => spec::NodeStatus::Ready,
            NodeStatus::Unknown | NodeStatus::Down => spec::NodeStatus::Down,
        },
        labels: node.labels.clone(),
        resources: UNMEASURED,
    }
}
