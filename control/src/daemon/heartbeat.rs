//! Heartbeats: every node reports to a manager each second (a follower
//! forwards to the leader); the leader keeps the times in memory and
//! writes a node's status only when it changes (Ready, or Down after
//! about three missed beats).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::DaemonError;
use super::calls::put;
use super::core::{Active, Manager, lock};
use crate::cluster::{DEFAULT_HEARTBEAT_PERIOD_MS, NODES, NodeRecord, NodeStatus};
use crate::ctl::{
    HeartbeatAck, HeartbeatReport, JoinRpc, MAX_ENGINE_VERSION_LEN, MAX_HOSTNAME_LEN,
};
use crate::node::NodeResources;
use crate::raft::Command;

/// How often nodes report by default (the swarm's
/// `--dispatcher-heartbeat` comes with every answer), and how often the
/// leader's watch looks twice.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(DEFAULT_HEARTBEAT_PERIOD_MS);
/// Silence after which the leader marks a node down at the default period.
pub const DOWN_AFTER: Duration = down_after(HEARTBEAT_INTERVAL);

/// Silence after which the leader marks a node down: three missed beats
/// and a half of `period`.
pub const fn down_after(period: Duration) -> Duration {
    match period.saturating_mul(7).checked_div(2) {
        Some(silence) => silence,
        None => period,
    }
}

/// How late the leader's watch may wake before it stops trusting the
/// silence it measured.
const STALLED: Duration = Duration::from_millis(1000);

/// The version nodes report.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// This machine's capacity as tasks may reserve it: its CPUs (the ones
/// this process may run on) and its physical memory.
pub(crate) fn capacity() -> NodeResources {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    // SAFETY: sysconf has no memory-safety preconditions.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    NodeResources {
        nano_cpus: u64::try_from(cpus).unwrap_or(1) * 1_000_000_000,
        memory_bytes: u64::try_from(pages)
            .unwrap_or(0)
            .saturating_mul(u64::try_from(page_size).unwrap_or(0)),
    }
}

/// Refuses a reported free-form `value` longer than `max` bytes.
pub(crate) fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), DaemonError> {
    match value.len() {
        len if len > max => Err(DaemonError::FieldTooLong { field, len, max }),
        _ => Ok(()),
    }
}

/// Checks the free-form fields of a heartbeat against their bounds.
pub(crate) fn check_report(report: &HeartbeatReport) -> Result<(), DaemonError> {
    check_len(
        "engine_version",
        &report.engine_version,
        MAX_ENGINE_VERSION_LEN,
    )
}

/// Checks the free-form fields of a join request against their bounds.
pub(crate) fn check_join(rpc: &JoinRpc) -> Result<(), DaemonError> {
    check_len(
        "engine_version",
        &rpc.engine_version,
        MAX_ENGINE_VERSION_LEN,
    )?;
    check_len("hostname", &rpc.hostname, MAX_HOSTNAME_LEN)
}

/// Records a heartbeat of `node_id` (on the leader). `report` was checked
/// by the manager that received it, which also put in the expiry of the
/// certificate the node presented; checked again here, as the leader is
/// the one writing.
pub(crate) async fn record(
    active: &Active,
    manager: &Manager,
    node_id: &str,
    report: HeartbeatReport,
) -> Result<HeartbeatAck, DaemonError> {
    let removed = || DaemonError::Removed {
        node_id: node_id.to_owned(),
    };
    check_report(&report)?;
    if manager.is_removed(node_id) {
        return Err(removed());
    }
    let cluster = manager.cluster()?;
    let period = Duration::from_millis(cluster.heartbeat_period_ms);
    lock(&manager.liveness).insert(node_id.to_owned(), (Instant::now(), period));
    // Most beats change nothing: answered without the write lock, so they
    // never queue behind joins, reports or the leader's pass.
    let node = manager.node(node_id).ok_or_else(removed)?;
    if changes(&node, &report) {
        lock(&manager.beats).push((node_id.to_owned(), report));
        let _writes = manager.writes.lock().await;
        // Empty when another beat's holder wrote this one meanwhile.
        let waiting = std::mem::take(&mut *lock(&manager.beats));
        write_beats(manager, waiting).await?;
    }
    Ok(HeartbeatAck {
        leader_addr: Some(active.node_state().advertise_addr),
        managers: manager.manager_addrs(),
        desired_role: node.desired_role,
        cert_expiry_secs: cluster.cert_expiry_secs,
        heartbeat_period_ms: Some(cluster.heartbeat_period_ms),
    })
}

/// Writes the records of the nodes whose beats `waiting` changes them, in
/// one raft entry (a join storm's first beats are then a few entries, not
/// one each). A beat lost to a failed write is written again by the
/// node's next one, as its record still differs.
async fn write_beats(
    manager: &Manager,
    waiting: Vec<(String, HeartbeatReport)>,
) -> Result<(), DaemonError> {
    let mut commands = Vec::new();
    for (node_id, report) in waiting {
        let Some(mut node) = manager.node(&node_id) else {
            continue;
        };
        if changes(&node, &report) {
            node.status = NodeStatus::Ready;
            node.engine_version = report.engine_version;
            node.cert_not_after = report.cert_not_after;
            node.resources = report.resources.or(node.resources);
            commands.push(put(NODES, &node_id, &node)?);
        }
    }
    if !commands.is_empty() {
        manager.store().propose(Command::Batch(commands)).await?;
    }
    Ok(())
}

/// Whether `report` changes what the node's record says.
fn changes(node: &NodeRecord, report: &HeartbeatReport) -> bool {
    node.status != NodeStatus::Ready
        || node.engine_version != report.engine_version
        || node.cert_not_after != report.cert_not_after
        || (report.resources.is_some() && node.resources != report.resources)
}

/// The leader's watch: marks silent nodes Down. Runs on every manager and
/// acts while it leads; a new leader gives every node [`DOWN_AFTER`] from
/// its election before judging it.
pub(crate) async fn monitor(manager: Arc<Manager>) {
    loop {
        let asleep = Instant::now();
        tokio::time::sleep(HEARTBEAT_INTERVAL / 2).await;
        if !manager.is_leader() {
            *lock(&manager.leader_since) = None;
            continue;
        }
        let late = asleep.elapsed().saturating_sub(HEARTBEAT_INTERVAL / 2);
        if late > STALLED {
            // This manager was stalled (overloaded, paused): the beats that
            // came meanwhile may still be waiting to be read, so silence
            // proves nothing yet. Every node gets its grace again.
            log::warn!(
                "heartbeat monitor woke {} ms late: every node gets its grace again",
                late.as_millis()
            );
            *lock(&manager.leader_since) = Some(Instant::now());
        }
        let since = *lock(&manager.leader_since).get_or_insert_with(Instant::now);
        if let Err(err) = mark_silent_nodes_down(&manager, since).await {
            log::debug!("heartbeat monitor: {}", err.full_message());
        }
    }
}

/// A node is down once silent for 3.5 periods — of the swarm's period, or
/// of the one its last answer told it if longer: after `swarm update
/// --dispatcher-heartbeat` shortens the period, a node sleeps out the
/// longer one before it learns the new one.
async fn mark_silent_nodes_down(manager: &Manager, since: Instant) -> Result<(), DaemonError> {
    let period = Duration::from_millis(manager.cluster()?.heartbeat_period_ms);
    if since.elapsed() <= down_after(period) {
        return Ok(());
    }
    let _writes = manager.writes.lock().await;
    let liveness = lock(&manager.liveness).clone();
    let mut commands = Vec::new();
    for mut node in manager.nodes().into_values() {
        let (last, told) = liveness.get(&node.id).copied().unwrap_or((since, period));
        let silence = down_after(told.max(period));
        if last.max(since).elapsed() > silence && node.status != NodeStatus::Down {
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
