//! The generic helpers of calls between nodes: the JSON codec of rows and
//! replies, reaching any manager, and running blocking runtime work.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::DaemonError;
use super::core::Active;
use crate::ctl::CtlRequest;
use crate::raft::Command;
use crate::runtime::Runtime;

/// Runs `f` on the node's runtime in a blocking thread (its image store
/// and containers do file I/O); `what` names the work if the thread panics.
pub(crate) async fn on_runtime<T: Send + 'static>(
    runtime: &Arc<Runtime>,
    what: &'static str,
    f: impl FnOnce(&Runtime) -> Result<T, DaemonError> + Send + 'static,
) -> Result<T, DaemonError> {
    let runtime = runtime.clone();
    tokio::task::spawn_blocking(move || f(&runtime))
        .await
        .map_err(|_| DaemonError::TaskPanicked { what })?
}

/// Serialises a result for the wire.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, DaemonError> {
    serde_json::to_value(value).map_err(DaemonError::codec("reply"))
}

/// A put of a JSON row.
pub(crate) fn put<T: Serialize>(table: &str, key: &str, value: &T) -> Result<Command, DaemonError> {
    Ok(Command::Put {
        table: table.to_owned(),
        key: key.to_owned(),
        value: to_json(value)?,
    })
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

/// `items` without repeats, in first-seen order.
pub(crate) fn unique(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}
