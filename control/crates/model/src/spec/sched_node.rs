//! [`SchedNode`]: what the scheduler and orchestrator know of a node.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Resources;
use crate::node::{Availability, NodeRecord, NodeRole, NodeStatus};

/// A node as scheduling sees it: the scheduler's projection of a
/// [`NodeRecord`] (see its `From<&NodeRecord>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedNode {
    /// Node ID.
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// Manager or worker.
    pub role: NodeRole,
    /// What the operator allows on it.
    pub availability: Availability,
    /// Whether its heartbeats arrive; only [`NodeStatus::Ready`] counts as
    /// up (a node that joined but never beat is not).
    pub status: NodeStatus,
    /// Operator-set labels (`node update --label-add`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Total resources tasks may reserve.
    #[serde(default)]
    pub resources: Resources,
}

impl SchedNode {
    /// A ready, active worker without labels or resources (tests, benches).
    pub fn worker(id: &str) -> SchedNode {
        SchedNode {
            id: id.to_owned(),
            hostname: id.to_owned(),
            role: NodeRole::Worker,
            availability: Availability::Active,
            status: NodeStatus::Ready,
            labels: BTreeMap::new(),
            resources: Resources::default(),
        }
    }

    /// Whether it may take new tasks: ready and active.
    pub fn takes_new_tasks(&self) -> bool {
        self.status.is_ready() && self.availability == Availability::Active
    }
}

impl From<&NodeRecord> for SchedNode {
    /// The scheduling view of a stored node: its reported capacity, or
    /// [`Resources::UNMEASURED`] before it reported one (reservations then
    /// never keep a task off it).
    fn from(node: &NodeRecord) -> Self {
        SchedNode {
            id: node.id.clone(),
            hostname: node.hostname.clone(),
            role: node.role,
            availability: node.availability,
            status: node.status,
            labels: node.labels.clone(),
            resources: node.resources.map_or(Resources::UNMEASURED, |r| Resources {
                nano_cpus: r.nano_cpus,
                memory_bytes: r.memory_bytes,
            }),
        }
    }
}
