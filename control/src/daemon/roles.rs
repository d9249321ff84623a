//! A manager joining raft (as learner, then voter). A node turning into a
//! manager or a worker when the store says so is in `boot`.

use std::time::Duration;

use super::DaemonError;
use super::calls::{call_managers, put};
use super::core::{Active, Manager};
use crate::ca::Role;
use crate::cluster::{ClusterError, NODES, NodeRole, NodeStatus};
use crate::ctl::{CtlRequest, LeaderCall};
use crate::tls::TlsError;

/// How long adding a manager to raft may take.
const ADD_MANAGER_TIMEOUT: Duration = Duration::from_secs(90);

/// Adds manager `node_id` to raft as a learner, then a voter (on the
/// leader), and records it as a manager.
pub(crate) async fn add_manager(manager: &Manager, node_id: &str) -> Result<(), DaemonError> {
    let node = manager
        .node(node_id)
        .ok_or_else(|| ClusterError::NodeNotFound {
            query: node_id.to_owned(),
        })?;
    if node.desired_role != NodeRole::Manager {
        return Err(DaemonError::Denied {
            source: TlsError::RoleNotAllowed {
                node_id: node_id.to_owned(),
                role: Role::Worker,
                required: Role::Manager,
            },
        });
    }
    let view = manager.raft.membership();
    if !view.voters.contains(&node.raft_id) {
        if !view.learners.contains(&node.raft_id) {
            manager
                .raft
                .add_learner(node.raft_id, node.addr.clone())
                .await?;
        }
        manager.raft.promote(node.raft_id).await?;
    }
    let _writes = manager.writes.lock().await;
    let mut node = manager.node(node_id).unwrap_or(node);
    node.role = NodeRole::Manager;
    node.status = NodeStatus::Ready;
    manager.store().propose(put(NODES, node_id, &node)?).await?;
    log::info!("node {node_id} ({}) is now a raft voter", node.hostname);
    Ok(())
}

/// Asks the leader (through any manager) to take this new manager into raft.
pub(crate) async fn join_raft(active: &Active) -> Result<(), DaemonError> {
    let node_id = active.node_state().node_id;
    let request = CtlRequest::Leader(LeaderCall::AddManager { node_id });
    call_managers(active, &request, ADD_MANAGER_TIMEOUT).await?;
    Ok(())
}
