//! Heartbeats: every node reports to a manager each second (a follower
//! forwards to the leader); the leader keeps the times in memory and
//! writes a node's status only when it changes (Ready, or Down after
//! about three missed beats).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::{Active, Daemon, Manager, lock};
use super::leader::put;
use super::{DaemonError, roles};
use crate::cluster::{NODES, NodeStatus};
use crate::ctl::{CtlRequest, HeartbeatAck, HeartbeatReport};
use crate::raft::Command;

/// How often nodes report.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Silence after which the leader marks a node down (three missed beats
/// and a half).
pub const DOWN_AFTER: Duration = Duration::from_millis(3500);
/// How long one heartbeat call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The version nodes report.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Records a heartbeat of `node_id` (on the leader).
pub(crate) async fn record(
    active: &Active,
    manager: &Manager,
    node_id: &str,
    report: HeartbeatReport,
) -> Result<HeartbeatAck, DaemonError> {
    let removed = || DaemonError::Removed {
        node_id: node_id.to_owned(),
    };
    if manager.is_removed(node_id) {
        return Err(removed());
    }
    lock(&manager.liveness).insert(node_id.to_owned(), Instant::now());
    let _writes = manager.writes.lock().await;
    let mut node = manager.node(node_id).ok_or_else(removed)?;
    if node.status != NodeStatus::Ready
        || node.engine_version != report.engine_version
        || node.cert_not_after != report.cert_not_after
    {
        node.status = NodeStatus::Ready;
        node.engine_version = report.engine_version;
        node.cert_not_after = report.cert_not_after;
        manager.store().propose(put(NODES, node_id, &node)?).await?;
    }
    Ok(HeartbeatAck {
        leader_addr: Some(active.node_state().advertise_addr),
        managers: manager.manager_addrs(),
        desired_role: node.desired_role,
        cert_expiry_secs: manager.cluster()?.cert_expiry_secs,
    })
}

/// The leader's watch: marks silent nodes Down. Runs on every manager and
/// acts while it leads; a new leader gives every node [`DOWN_AFTER`] from
/// its election before judging it.
pub(crate) async fn monitor(manager: Arc<Manager>) {
    loop {
        tokio::time::sleep(HEARTBEAT_INTERVAL / 2).await;
        if !manager.is_leader() {
            *lock(&manager.leader_since) = None;
            continue;
        }
        let since = *lock(&manager.leader_since).get_or_insert_with(Instant::now);
        if let Err(err) = mark_silent_nodes_down(&manager, since).await {
            log::debug!("heartbeat monitor: {}", err.full_message());
        }
    }
}

async fn mark_silent_nodes_down(manager: &Manager, since: Instant) -> Result<(), DaemonError> {
    let _writes = manager.writes.lock().await;
    let liveness = lock(&manager.liveness).clone();
    let mut commands = Vec::new();
    for mut node in manager.nodes().into_values() {
        let last = liveness.get(&node.id).copied().unwrap_or(since).max(since);
        if last.elapsed() > DOWN_AFTER && node.status != NodeStatus::Down {
            log::info!(
                "node {} ({}) missed its heartbeats: down",
                node.id,
                node.hostname
            );
            node.status = NodeStatus::Down;
            commands.push(put(NODES, &node.id.clone(), &node)?);
        }
    }
    if !commands.is_empty() {
        manager.store().propose(Command::Batch(commands)).await?;
    }
    Ok(())
}

/// Sends `request` to a manager: the leader first when known, then the
/// others; the one that answers goes first next time.
pub(crate) async fn call_managers(
    active: &Active,
    request: &CtlRequest,
    timeout: Duration,
) -> Result<serde_json::Value, DaemonError> {
    let state = active.node_state();
    let mut candidates = Vec::new();
    if let Some(manager) = &active.manager {
        candidates.extend(manager.leader_addr());
    }
    candidates.extend(state.managers);
    if let Some(manager) = &active.manager {
        // The store's list: newer than the last heartbeat's answer when
        // managers just joined (a leader never forwards its heartbeats).
        candidates.extend(manager.manager_addrs());
    }
    if active.manager.as_ref().is_some_and(|m| m.is_member()) {
        // Itself last: it forwards to a leader it may not know yet.
        candidates.push(state.advertise_addr);
    } else {
        candidates.retain(|addr| *addr != state.advertise_addr);
    }
    let candidates = unique(candidates);
    let mut last_err = DaemonError::NoLeader {
        reachable: 0,
        total: candidates.len(),
    };
    for addr in candidates {
        match active.ctl.call(&addr, request, timeout).await {
            Ok(value) => return Ok(value),
            Err(err) if err.is_retryable() => last_err = err.into(),
            Err(err) => return Err(err.into()),
        }
    }
    Err(last_err)
}

/// Every node's heartbeat loop; also notices a wanted role change.
pub(crate) async fn agent(daemon: Arc<Daemon>, active: Arc<Active>) {
    loop {
        match beat(&active).await {
            Ok(ack) => {
                remember_managers(&active, &ack);
                if ack.desired_role != active.node_state().role {
                    roles::spawn_transition(daemon.clone(), active.clone(), ack.desired_role);
                }
            }
            Err(err) => log::debug!("heartbeat: {}", err.full_message()),
        }
        tokio::time::sleep(HEARTBEAT_INTERVAL).await;
    }
}

async fn beat(active: &Active) -> Result<HeartbeatAck, DaemonError> {
    let cert_not_after = lock(&active.cert).identity()?.not_after.unix_timestamp();
    let request = CtlRequest::Heartbeat(HeartbeatReport {
        engine_version: ENGINE_VERSION.to_owned(),
        cert_not_after,
    });
    let value = call_managers(active, &request, CALL_TIMEOUT).await?;
    serde_json::from_value(value).map_err(DaemonError::codec("heartbeat ack"))
}

/// Keeps the manager list (leader first) and the certificate lifetime.
fn remember_managers(active: &Active, ack: &HeartbeatAck) {
    let mut managers: Vec<String> = ack.leader_addr.iter().cloned().collect();
    managers.extend(ack.managers.iter().cloned());
    let managers = unique(managers);
    let mut state = lock(&active.state);
    if state.managers != managers || state.cert_expiry_secs != ack.cert_expiry_secs {
        state.managers = managers;
        state.cert_expiry_secs = ack.cert_expiry_secs;
        if let Err(err) = state.save(&active.paths) {
            log::warn!("cannot save node state: {}", err.full_message());
        }
    }
}

/// `items` without repeats, in first-seen order.
fn unique(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}
