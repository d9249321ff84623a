//! Pure rules over the cluster tables.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Availability, ClusterError, NodeRecord, NodeRole, NodeStatus};

/// Votes needed among `managers` voters.
pub const fn quorum(managers: usize) -> usize {
    managers / 2 + 1
}

/// Finds the node `query` names: an exact ID, an exact hostname, or a
/// unique ID prefix — in that order, as Docker resolves them.
pub fn resolve_node<'a>(
    nodes: &'a BTreeMap<String, NodeRecord>,
    query: &str,
) -> Result<&'a NodeRecord, ClusterError> {
    if let Some(node) = nodes.get(query) {
        return Ok(node);
    }
    let by_name: Vec<&NodeRecord> = nodes.values().filter(|n| n.hostname == query).collect();
    let candidates = if by_name.is_empty() && !query.is_empty() {
        nodes.values().filter(|n| n.id.starts_with(query)).collect()
    } else {
        by_name
    };
    match candidates.as_slice() {
        [] => Err(ClusterError::NodeNotFound {
            query: query.to_owned(),
        }),
        [one] => Ok(one),
        many => Err(ClusterError::AmbiguousNode {
            query: query.to_owned(),
            matches: many.len(),
        }),
    }
}

/// One label change of `node update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabelChange {
    /// `--label-add key=value` (or `key`, for an empty value).
    Add(String),
    /// `--label-rm key`.
    Remove(String),
}

/// What `node update` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeUpdate {
    /// `--availability`.
    pub availability: Option<String>,
    /// Label additions and removals, applied in order.
    #[serde(default)]
    pub labels: Vec<LabelChange>,
}

/// Parses an availability name.
fn parse_availability(value: &str) -> Result<Availability, ClusterError> {
    match value {
        "active" => Ok(Availability::Active),
        "pause" => Ok(Availability::Pause),
        "drain" => Ok(Availability::Drain),
        _ => Err(ClusterError::InvalidAvailability {
            value: value.to_owned(),
        }),
    }
}

/// The node after `update`; nothing is applied if any part is invalid.
pub fn apply_update(node: &NodeRecord, update: &NodeUpdate) -> Result<NodeRecord, ClusterError> {
    let mut next = node.clone();
    if let Some(value) = &update.availability {
        next.availability = parse_availability(value)?;
    }
    for change in &update.labels {
        match change {
            LabelChange::Add(label) => {
                let (key, value) = label.split_once('=').unwrap_or((label.as_str(), ""));
                if key.is_empty() {
                    return Err(ClusterError::InvalidLabel {
                        label: label.clone(),
                    });
                }
                next.labels.insert(key.to_owned(), value.to_owned());
            }
            LabelChange::Remove(key) => {
                next.labels.remove(key);
            }
        }
    }
    Ok(next)
}

fn managers(nodes: &BTreeMap<String, NodeRecord>) -> impl Iterator<Item = &NodeRecord> {
    nodes.values().filter(|n| n.role == NodeRole::Manager)
}

/// Checks that manager `target` may stop being a manager: it is not the
/// last one, and the managers left can still reach a quorum among
/// themselves.
pub fn check_demote(
    nodes: &BTreeMap<String, NodeRecord>,
    target: &NodeRecord,
) -> Result<(), ClusterError> {
    let others: Vec<&NodeRecord> = managers(nodes).filter(|n| n.id != target.id).collect();
    if others.is_empty() {
        return Err(ClusterError::LastManager);
    }
    let reachable = others
        .iter()
        .filter(|n| n.status == NodeStatus::Ready)
        .count();
    let needed = quorum(others.len());
    if reachable < needed {
        return Err(ClusterError::WouldLoseQuorum {
            reachable_after: reachable,
            total_after: others.len(),
            needed,
        });
    }
    Ok(())
}

/// Checks that manager `me` may leave without `--force`: it stays a
/// member of the raft configuration (until `node rm`), so the others must
/// still make a quorum of the whole.
pub fn check_leave(
    nodes: &BTreeMap<String, NodeRecord>,
    me: &NodeRecord,
) -> Result<(), ClusterError> {
    if me.role != NodeRole::Manager {
        return Ok(());
    }
    let total = managers(nodes).count();
    let reachable_after = managers(nodes)
        .filter(|n| n.id != me.id && n.status == NodeStatus::Ready)
        .count();
    let needed = quorum(total);
    if reachable_after < needed {
        return Err(ClusterError::ManagerLeave {
            reachable_after,
            total,
            needed,
        });
    }
    Ok(())
}

/// `MANAGER STATUS` of `node` given the raft leader's ID: Leader,
/// Reachable, Unreachable; `None` for workers.
pub fn manager_status(node: &NodeRecord, leader: Option<u64>) -> Option<&'static str> {
    if node.role != NodeRole::Manager {
        return None;
    }
    Some(if leader == Some(node.raft_id) {
        "Leader"
    } else if node.status == NodeStatus::Ready {
        "Reachable"
    } else {
        "Unreachable"
    })
}
