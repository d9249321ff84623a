//! Getting work done by the raft leader: run it here when this manager
//! leads, else forward it over mTLS to the leader; when no leader can be
//! found, say how many managers are reachable. Also the read barrier that
//! makes a manager's own reads linearizable.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::DaemonError;
use super::calls::{call_managers, to_json};
use super::core::{Active, Manager};
use super::{grant, heartbeat, ops, roles, service_ops};
use crate::cluster::{NodeRole, quorum};
use crate::ctl::{ApiOp, CallLimits, CtlError, CtlRequest, LeaderCall};
use crate::raft::{StoreError, typ};

/// How long a call looks for a leader (an election takes about 1.5 s).
const PATIENCE: Duration = Duration::from_secs(8);
/// Longest pause between two attempts; cut short when the leader this
/// manager knows changes.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How long reaching the leader may take: a dead or cut-off leader is
/// given up on quickly (nothing was sent, so trying again is safe).
const FORWARD_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a forwarded call may take once sent.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a forwarded membership change may take (adding a manager
/// waits for it to catch up).
const MEMBERSHIP_FORWARD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a reachability probe waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

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
///
/// While the leader is unknown, unreachable or moving, tries again for up
/// to [`PATIENCE`]. A forwarded call that was sent but not answered is not
/// sent again (it may still take effect).
pub(crate) async fn submit(
    active: &Arc<Active>,
    call: LeaderCall,
) -> Result<serde_json::Value, DaemonError> {
    let manager = active.manager.clone().ok_or(DaemonError::NotManager)?;
    if has_left_raft(&manager) {
        // Demoted or removed: this node no longer speaks for the swarm.
        return Err(DaemonError::NotManager);
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut metrics = manager.raft.raft().metrics();
    loop {
        let seen = metrics.borrow_and_update().current_leader;
        match attempt(active, &manager, &call).await {
            Some(Ok(value)) => return Ok(value),
            Some(Err(DaemonError::Store(StoreError::NoQuorum { .. }))) => {
                return Err(no_quorum(active, &manager).await);
            }
            Some(Err(DaemonError::Ctl(err @ CtlError::Timeout { .. }))) => {
                return Err(unanswered(active, &manager, err).await);
            }
            Some(Err(err)) if !leader_moved(&err) => return Err(err),
            Some(Err(err)) => log::debug!("leader call: {}", err.full_message()),
            None => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(no_quorum(active, &manager).await);
        }
        pause(&mut metrics, seen).await;
    }
}

/// Makes this manager's next reads linearizable: gets the read index from
/// the leader (which confirms its leadership with a quorum) and waits
/// until this manager has applied the log that far. A write acknowledged
/// before the barrier started is then visible here.
pub(crate) async fn read_barrier(active: &Arc<Active>) -> Result<(), DaemonError> {
    let manager = active.manager.clone().ok_or(DaemonError::NotManager)?;
    let answer = submit(active, LeaderCall::ReadIndex).await?;
    let index: Option<u64> =
        serde_json::from_value(answer).map_err(DaemonError::codec("read index"))?;
    manager.store().wait_applied(index).await?;
    Ok(())
}

/// Whether this manager was in raft and no longer is.
fn has_left_raft(manager: &Manager) -> bool {
    !manager.is_member()
        && manager
            .raft
            .metrics()
            .membership_config
            .membership()
            .voter_ids()
            .next()
            .is_some()
}

/// One try: here when leading, else forwarded to the known leader; `None`
/// when no leader is known.
async fn attempt(
    active: &Arc<Active>,
    manager: &Arc<Manager>,
    call: &LeaderCall,
) -> Option<Result<serde_json::Value, DaemonError>> {
    if manager.is_leader() {
        return Some(execute(active, manager, call.clone()).await);
    }
    if !manager.is_member() {
        // Left raft during this call (a leader demoting itself): it no
        // longer learns who leads, another manager does.
        let request = CtlRequest::Leader(call.clone());
        let timeout = forward_limits(call).answer;
        return Some(call_managers(active, &request, timeout).await);
    }
    let own_addr = active.node_state().advertise_addr;
    match manager.leader_addr() {
        Some(addr) if addr != own_addr => Some(forward(active, &addr, call).await),
        _ => None,
    }
}

/// Waits up to [`RETRY_PAUSE`], less if the known leader changes from
/// `seen`.
async fn pause(metrics: &mut watch::Receiver<typ::RaftMetrics>, seen: Option<u64>) {
    let changed = metrics.wait_for(|m| m.current_leader != seen);
    let stopped = matches!(tokio::time::timeout(RETRY_PAUSE, changed).await, Ok(Err(_)));
    if stopped {
        // Raft has stopped: nothing will wake us.
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Timeouts of forwarding `call`: membership changes may take long,
/// everything else is answered within seconds.
fn forward_limits(call: &LeaderCall) -> CallLimits {
    let membership = matches!(
        call,
        LeaderCall::Join { .. }
            | LeaderCall::AddManager { .. }
            | LeaderCall::Api(ApiOp::Promote { .. } | ApiOp::Demote { .. })
    );
    CallLimits {
        connect: FORWARD_CONNECT_TIMEOUT,
        answer: if membership {
            MEMBERSHIP_FORWARD_TIMEOUT
        } else {
            FORWARD_TIMEOUT
        },
    }
}

async fn forward(
    active: &Active,
    addr: &str,
    call: &LeaderCall,
) -> Result<serde_json::Value, DaemonError> {
    let request = CtlRequest::Leader(call.clone());
    Ok(active
        .ctl
        .call_within(addr, &request, forward_limits(call))
        .await?)
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
        LeaderCall::Api(op) => match service_ops::run(manager, op).await {
            Ok(result) => result,
            Err(op) => ops::run(active, manager, op).await,
        },
        LeaderCall::TaskStatus { node_id, reports } => {
            service_ops::task_status(manager, &node_id, &reports).await
        }
        LeaderCall::ReadIndex => to_json(&manager.store().read_index().await?),
    }
}

/// Why a forwarded call went unanswered: no quorum reachable from here,
/// or else a leader that got the call and did not answer.
async fn unanswered(active: &Arc<Active>, manager: &Manager, err: CtlError) -> DaemonError {
    match no_quorum(active, manager).await {
        lost @ DaemonError::NoQuorum { .. } => lost,
        _ => DaemonError::LeaderUnanswered { source: err },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_membership_calls_keep_the_long_forward_timeout() {
        let promote = LeaderCall::Api(ApiOp::Promote {
            target: "n2".into(),
        });
        let add = LeaderCall::AddManager {
            node_id: "n2".into(),
        };
        for call in [promote, add] {
            assert_eq!(forward_limits(&call).answer, MEMBERSHIP_FORWARD_TIMEOUT);
        }
        let update = LeaderCall::Api(ApiOp::UpdateNode {
            target: "n2".into(),
            update: Default::default(),
        });
        for call in [update, LeaderCall::ReadIndex] {
            let limits = forward_limits(&call);
            assert_eq!(limits.answer, FORWARD_TIMEOUT);
            assert_eq!(limits.connect, FORWARD_CONNECT_TIMEOUT);
        }
    }
}
