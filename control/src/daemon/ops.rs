//! API changes, run on the leader: node update/rm/promote/demote, token
//! and unlock-key rotation; service, network and secret changes go to
//! `service_ops` (the leader's router sends them there).

use std::sync::Arc;

use super::DaemonError;
use super::calls::{put, to_json};
use super::core::{Active, Manager, lock};
use super::views;
use crate::api::UnlockKeyResponse;
use crate::cluster::{
    CLUSTER, CLUSTER_KEY, ClusterError, NODES, NodeRole, NodeStatus, REMOVED, apply_update,
    check_demote, now_secs, resolve_node,
};
use crate::ctl::ApiOp;
use crate::raft::Command;
use crate::seal::UnlockKey;

/// Runs `op` here, the leader.
pub(crate) async fn run(
    active: &Arc<Active>,
    manager: &Arc<Manager>,
    op: ApiOp,
) -> Result<serde_json::Value, DaemonError> {
    match op {
        ApiOp::UpdateNode { target, update } => {
            let _writes = manager.writes.lock().await;
            let nodes = manager.nodes();
            let node = resolve_node(&nodes, &target)?;
            let next = apply_update(node, &update)?;
            manager
                .store()
                .propose(put(NODES, &next.id, &next)?)
                .await?;
            to_json(&views::node_view(active, manager, next))
        }
        ApiOp::RemoveNode { target, force } => remove(manager, &target, force).await,
        ApiOp::Promote { target } => set_desired_role(manager, &target, NodeRole::Manager).await,
        ApiOp::Demote { target } => demote(manager, &target).await,
        ApiOp::RotateToken { role } => rotate_token(active, manager, role).await,
        ApiOp::RotateUnlockKey => rotate_unlock_key(manager).await,
        ApiOp::UpdateSwarm {
            autolock,
            cert_expiry_secs,
            key_rotation_secs,
            heartbeat_period_ms,
        } => {
            let settings = SwarmSettings {
                autolock,
                cert_expiry_secs,
                key_rotation_secs,
                heartbeat_period_ms,
            };
            update_swarm(manager, settings).await
        }
        // Service, network and secret operations: the leader's router
        // sends them to `service_ops`.
        _ => Err(DaemonError::NotManager),
    }
}

async fn remove(
    manager: &Manager,
    target: &str,
    force: bool,
) -> Result<serde_json::Value, DaemonError> {
    let _writes = manager.writes.lock().await;
    let nodes = manager.nodes();
    let node = resolve_node(&nodes, target)?;
    if node.role == NodeRole::Manager || node.desired_role == NodeRole::Manager {
        return Err(ClusterError::RemoveManager {
            node: node.hostname.clone(),
        }
        .into());
    }
    if node.status == NodeStatus::Ready && !force {
        return Err(ClusterError::NodeNotDown {
            node: node.hostname.clone(),
        }
        .into());
    }
    manager
        .store()
        .propose(Command::Batch(vec![
            Command::Delete {
                table: NODES.to_owned(),
                key: node.id.clone(),
            },
            put(REMOVED, &node.id, &now_secs())?,
        ]))
        .await?;
    lock(&manager.liveness).remove(&node.id);
    log::info!("removed node {} ({})", node.id, node.hostname);
    Ok(serde_json::Value::Null)
}

async fn set_desired_role(
    manager: &Manager,
    target: &str,
    role: NodeRole,
) -> Result<serde_json::Value, DaemonError> {
    let _writes = manager.writes.lock().await;
    let nodes = manager.nodes();
    let mut node = resolve_node(&nodes, target)?.clone();
    if node.desired_role != role {
        node.desired_role = role;
        manager
            .store()
            .propose(put(NODES, &node.id, &node)?)
            .await?;
    }
    Ok(serde_json::Value::Null)
}

/// Demotes a manager: the rules first, then raft (a demoted leader steps
/// down and the call is finished by the next leader), then the record.
async fn demote(manager: &Manager, target: &str) -> Result<serde_json::Value, DaemonError> {
    let nodes = manager.nodes();
    let node = resolve_node(&nodes, target)?.clone();
    if node.role == NodeRole::Worker && node.desired_role == NodeRole::Worker {
        return Ok(serde_json::Value::Null);
    }
    let view = manager.raft.membership();
    let in_raft = view.voters.contains(&node.raft_id) || view.learners.contains(&node.raft_id);
    if view.voters.contains(&node.raft_id) {
        check_demote(&nodes, &node)?;
    }
    if in_raft {
        manager.raft.remove_node(node.raft_id).await?;
    }
    let _writes = manager.writes.lock().await;
    let mut node = manager.node(&node.id).unwrap_or(node);
    node.role = NodeRole::Worker;
    node.desired_role = NodeRole::Worker;
    manager
        .store()
        .propose(put(NODES, &node.id, &node)?)
        .await?;
    log::info!("demoted node {} ({})", node.id, node.hostname);
    Ok(serde_json::Value::Null)
}

async fn rotate_token(
    active: &Active,
    manager: &Manager,
    role: NodeRole,
) -> Result<serde_json::Value, DaemonError> {
    let _writes = manager.writes.lock().await;
    let mut cluster = manager.cluster()?;
    let mut secrets = super::grant::secrets_of(&cluster)?;
    secrets.rotate(role);
    cluster.worker_secret = secrets.secret(crate::ca::Role::Worker).expose().to_owned();
    cluster.manager_secret = secrets.secret(crate::ca::Role::Manager).expose().to_owned();
    manager
        .store()
        .propose(put(CLUSTER, CLUSTER_KEY, &cluster)?)
        .await?;
    log::info!("rotated the {role:?} join token");
    to_json(&views::join_token(active, &cluster, role)?)
}

async fn rotate_unlock_key(manager: &Manager) -> Result<serde_json::Value, DaemonError> {
    let _writes = manager.writes.lock().await;
    let mut cluster = manager.cluster()?;
    if !cluster.autolock {
        return Err(DaemonError::AutolockOff);
    }
    let key = UnlockKey::generate();
    cluster.unlock_key = Some(key.expose().to_string());
    manager
        .store()
        .propose(put(CLUSTER, CLUSTER_KEY, &cluster)?)
        .await?;
    log::info!("rotated the unlock key");
    to_json(&UnlockKeyResponse {
        key: cluster.unlock_key,
    })
}

/// `swarm update`: autolock turned on gets a new unlock key (every manager's
/// key keeper then wraps its data key with it), turned off drops it (the
/// keepers store their data keys plain again); a new certificate lifetime
/// applies to certificates issued from now on. Answers the unlock key
/// while autolock is on.
/// What `swarm update` changes.
struct SwarmSettings {
    autolock: Option<bool>,
    cert_expiry_secs: Option<u64>,
    key_rotation_secs: Option<u64>,
    heartbeat_period_ms: Option<u64>,
}

async fn update_swarm(
    manager: &Manager,
    settings: SwarmSettings,
) -> Result<serde_json::Value, DaemonError> {
    let _writes = manager.writes.lock().await;
    let mut cluster = manager.cluster()?;
    if let Some(secs) = settings.key_rotation_secs {
        if secs == 0 {
            return Err(DaemonError::BadKeyRotation);
        }
        cluster.key_rotation_secs = secs;
    }
    if let Some(ms) = settings.heartbeat_period_ms {
        if !crate::cluster::HEARTBEAT_PERIOD_RANGE_MS.contains(&ms) {
            return Err(DaemonError::BadHeartbeatPeriod { ms });
        }
        cluster.heartbeat_period_ms = ms;
    }
    let autolock = settings.autolock;
    if let Some(secs) = settings.cert_expiry_secs {
        crate::ca::CertValidity::from_now(std::time::Duration::from_secs(secs))?;
        cluster.cert_expiry_secs = secs;
    }
    match autolock {
        Some(true) if !cluster.autolock => {
            cluster.autolock = true;
            cluster.unlock_key = Some(UnlockKey::generate().expose().to_string());
        }
        Some(false) => {
            cluster.autolock = false;
            cluster.unlock_key = None;
        }
        _ => {}
    }
    manager
        .store()
        .propose(put(CLUSTER, CLUSTER_KEY, &cluster)?)
        .await?;
    log::info!("swarm settings updated (autolock {})", cluster.autolock);
    to_json(&UnlockKeyResponse {
        key: cluster.unlock_key,
    })
}
