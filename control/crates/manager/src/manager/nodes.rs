//! Node records as the scheduler and orchestrator see them.

use std::collections::BTreeMap;

use shoal_model::node::NodeRecord;
use shoal_model::spec::SchedNode;

/// The scheduling view of every node: ready only when its heartbeats
/// arrive (a node that joined but never beat is not ready), offering
/// unmeasured resources (see `From<&NodeRecord> for SchedNode`).
pub fn views(nodes: &BTreeMap<String, NodeRecord>) -> Vec<SchedNode> {
    nodes.values().map(SchedNode::from).collect()
}
