//! Getting work done by the raft leader: run it here when this manager
//! leads, else forward it over mTLS to the leader; when no leader can be
//! found, say how many managers are reachable.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::DaemonError;
use super::core::{Active, Manager};
use super::{grant, heartbeat, ops, roles, service_ops};
use crate::cluster::{NodeRole, quorum};
use crate::ctl::{CtlRequest, LeaderCall};
use crate::raft::{Command, StoreError};

/// How long a call looks for a leader (an election takes 1-2 s).
const PATIENCE: Duration = Duration::from_secs(8);
/// How long a forwarded call may take (adding a manager waits for it to
/// catch up).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a reachability probe waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

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

/// Whether the leader may be elsewhere or about to exist.
fn leader_moved(err: &DaemonError) -> bool {
    match err {
        DaemonError::Store(StoreError::NotLeader { .. }) => true,
        DaemonError::Store(err @ StoreError::Membership { .. }) => err.is_retryable(),
        DaemonError::Ctl(err) => err.is_retryable(),
        _ => false,
    }
}

/// Runs `call` on the leader (here or forwarded) and returns its answer.
pub(crate) async fn submit(
    active: &Arc<Active>,
    call: LeaderCall,
) -> Result<serde_json::Value, DaemonError> {
    let manager = active.manager.clone().ok_or(DaemonError::NotManager)?;
    if !manager.is_member()
        && manager
            .raft
            .metrics()
            .membership_config
            .membership()
            .voter_ids()
            .next()
            .is_some()
    {
        // Demoted or removed: this node no longer speaks for the swarm.
        return Err(DaemonError::NotManager);
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let own_addr = active.node_state().advertise_addr;
    loop {
        let attempt = if manager.is_leader() {
            Some(execute(active, &manager, call.clone()).await)
        } else {
            match manager.leader_addr() {
                Some(addr) if addr != own_addr => Some(forward(active, &addr, &call).await),
                _ => None,
            }
        };
        match attempt {
            Some(Ok(value)) => return Ok(value),
            Some(Err(DaemonError::Store(StoreError::NoQuorum { .. }))) => {
                return Err(no_quorum(active, &manager).await);
            }
            Some(Err(err)) if !leader_moved(&err) => return Err(err),
            Some(Err(err)) => log::debug!("leader call: {}", err.full_message()),
            None => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(no_quorum(active, &manager).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn forward(
    active: &Active,
    addr: &str,
    call: &LeaderCall,
) -> Result<serde_json::Value, DaemonError> {
    let request = CtlRequest::Leader(call.clone());
    Ok(active.ctl.call(addr, &request, FORWARD_TIMEOUT).await?)
}

/// Runs `call` here, the leader.
async fn execute(
    active: &Arc<Active>,
    manager: &Arc<Manager>,
    call: LeaderCall,
) -> Result<serde_json::Value, DaemonError> {
    match call {
        LeaderCall::Join { rpc, observed_ip } => {
            to_json(&grant::admit(active, manager, rpc, &observed_ip).await?)
        }
        LeaderCall::Heartbeat { node_id, report } => {
            to_json(&heartbeat::record(active, manager, &node_id, report).await?)
        }
        LeaderCall::AddManager { node_id } => {
            roles::add_manager(manager, &node_id).await?;
            Ok(serde_json::Value::Null)
        }
        LeaderCall::Api(op) => ops::run(active, manager, op).await,
        LeaderCall::TaskStatus { node_id, reports } => {
            service_ops::task_status(manager, &node_id, &reports).await
        }
    }
}

/// Why no leader could do the work: probes every other manager and
/// reports how many answered.
async fn no_quorum(active: &Arc<Active>, manager: &Manager) -> DaemonError {
    let own = active.node_state().advertise_addr;
    let others: Vec<String> = manager
        .nodes()
        .into_values()
        .filter(|n| n.role == NodeRole::Manager && n.addr != own)
        .map(|n| n.addr)
        .collect();
    let total = others.len() + 1;
    let mut probes = tokio::task::JoinSet::new();
    for addr in others {
        let active = active.clone();
        probes.spawn(async move {
            active
                .ctl
                .call(&addr, &CtlRequest::Ping, PROBE_TIMEOUT)
                .await
                .is_ok()
        });
    }
    let mut reachable = 1;
    while let Some(answered) = probes.join_next().await {
        reachable += usize::from(answered.unwrap_or(false));
    }
    let needed = quorum(total);
    if reachable >= needed {
        DaemonError::NoLeader { reachable, total }
    } else {
        DaemonError::NoQuorum {
            reachable,
            total,
            needed,
        }
    }
}
