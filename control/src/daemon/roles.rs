//! Role changes: a manager joining raft (as learner, then voter), and a
//! node turning into a manager or a worker when the store says so.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::core::{Active, Daemon, Manager, Phase};
use super::heartbeat::call_managers;
use super::leader::put;
use super::{DaemonError, boot, keys, renew};
use crate::ca::{NodeKey, Role};
use crate::cluster::{ClusterError, NODES, NodeRole, NodeStatus};
use crate::ctl::{CtlRequest, LeaderCall};
use crate::seal::{DataKey, StoredDataKey};
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

/// Starts a role change in the background, once.
pub(crate) fn spawn_transition(daemon: Arc<Daemon>, active: Arc<Active>, role: NodeRole) {
    if active.changing_role.swap(true, Ordering::SeqCst) {
        return;
    }
    tokio::spawn(async move {
        if let Err(err) = transition(&daemon, &active, role).await {
            log::warn!("becoming a {role:?}: {}", err.full_message());
        }
        active.changing_role.store(false, Ordering::SeqCst);
    });
}

/// Becomes a `role`: gets a certificate for it, stops, and starts again
/// with (manager) or without (worker) raft.
async fn transition(
    daemon: &Arc<Daemon>,
    active: &Arc<Active>,
    role: NodeRole,
) -> Result<(), DaemonError> {
    let _transition = daemon.transition.lock().await;
    let current =
        daemon.with_phase(|phase| matches!(phase, Phase::Active(a) if Arc::ptr_eq(a, active)));
    if !current {
        return Ok(());
    }
    let grant = renew::renew_now(active, true).await?;
    if grant.role != role {
        return Ok(());
    }
    active.stop().await;
    let mut state = active.node_state();
    state.role = role;
    let raft_dir = active.paths.raft_dir();
    if raft_dir.exists() {
        std::fs::remove_dir_all(&raft_dir).map_err(DaemonError::io("remove", raft_dir))?;
    }
    let data_key = match role {
        NodeRole::Manager => {
            let key = DataKey::generate();
            let unlock = keys::parse_unlock_key(grant.unlock_key.as_deref())?;
            active
                .paths
                .save_dek(&StoredDataKey::new(&key, unlock.as_ref())?)?;
            Some(key)
        }
        NodeRole::Worker => {
            let _ = std::fs::remove_file(active.paths.dek_file());
            None
        }
    };
    state.save(&active.paths)?;
    let cert = super::core::lock(&active.cert).clone();
    let key = NodeKey::from_pem(&active.key.to_pem())?;
    let next = boot::activate(daemon, state, active.ca.clone(), cert, key, data_key).await?;
    daemon.set_phase(Phase::Active(next.clone()));
    if role == NodeRole::Manager {
        join_raft(&next).await?;
    }
    log::info!("this node is now a {role:?}");
    Ok(())
}
