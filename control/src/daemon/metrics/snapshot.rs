//! One scrape's worth of readings.

use std::collections::BTreeMap;

use shoal_dataplane::{
    PinPaths,
    lb::tables::FlowTables,
    stats::{StatsReport, read_stats},
};

use super::super::core::{Daemon, Manager};
use crate::manager::{ClusterTables, api};

/// What one scrape reports; each part is `None` when this node cannot
/// read it (no data plane loaded, not a manager, not in a swarm).
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The data plane's counters.
    pub(crate) dp: Option<StatsReport>,
    /// Entries in the conntrack and reply tables.
    pub(crate) flows: Option<FlowCounts>,
    /// Raft, on managers.
    pub(crate) raft: Option<RaftGauges>,
    /// Tasks and nodes from the store, on managers.
    pub(crate) cluster: Option<ClusterCounts>,
}

/// Occupancy of the load balancer's flow tables.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FlowCounts {
    /// Forward conntrack entries.
    pub(crate) conntrack: u64,
    /// Reply (reverse NAT / return path) entries.
    pub(crate) replies: u64,
}

/// Raft's view from this manager.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RaftGauges {
    /// Current term.
    pub(crate) term: u64,
    /// Whether this manager leads.
    pub(crate) is_leader: bool,
    /// Whether it knows a leader.
    pub(crate) has_leader: bool,
    /// Index of the last log entry it holds.
    pub(crate) last_log_index: u64,
    /// Index of the last entry applied to its state machine.
    pub(crate) last_applied_index: u64,
}

/// Tasks by (service name, state) and nodes by (role, status,
/// availability).
#[derive(Debug, Default)]
pub(crate) struct ClusterCounts {
    /// Tasks per service and state.
    pub(crate) tasks: BTreeMap<(String, &'static str), u64>,
    /// Nodes per role, status and availability.
    pub(crate) nodes: BTreeMap<(&'static str, &'static str, &'static str), u64>,
}

/// Reads everything this node can report.
pub(crate) fn take(daemon: &Daemon) -> Snapshot {
    let pins = PinPaths::under(&daemon.opts.bpffs, &daemon.opts.dp_node).ok();
    let manager = daemon.manager().ok().map(|(_, manager)| manager);
    Snapshot {
        dp: pins.as_ref().and_then(|p| read_stats(p).ok()),
        flows: pins.as_ref().and_then(flow_counts),
        raft: manager.as_deref().map(raft_gauges),
        cluster: manager.map(|m| cluster_counts(&api::load(&*m))),
    }
}

fn flow_counts(pins: &PinPaths) -> Option<FlowCounts> {
    let tables = FlowTables::open(pins).ok()?;
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    Some(FlowCounts {
        conntrack: count(tables.flows().ok()?.len()),
        replies: count(tables.replies().ok()?.len()),
    })
}

fn raft_gauges(manager: &Manager) -> RaftGauges {
    let metrics = manager.raft.metrics();
    RaftGauges {
        term: metrics.current_term,
        is_leader: metrics.state == openraft::ServerState::Leader,
        has_leader: metrics.current_leader.is_some(),
        last_log_index: metrics.last_log_index.unwrap_or(0),
        last_applied_index: metrics.last_applied.map_or(0, |id| id.index),
    }
}

/// Counts tasks and nodes; a task of a removed service counts under its
/// service ID.
pub(crate) fn cluster_counts(tables: &ClusterTables) -> ClusterCounts {
    let mut counts = ClusterCounts::default();
    for task in tables.tasks.values() {
        let service = tables
            .services
            .get(&task.service_id)
            .map_or_else(|| task.service_id.clone(), |s| s.spec.name.clone());
        *counts
            .tasks
            .entry((service, task.status.state.name()))
            .or_default() += 1;
    }
    for node in tables.nodes.values() {
        let key = (
            node.role.as_str(),
            node.status.as_str(),
            node.availability.as_str(),
        );
        *counts.nodes.entry(key).or_default() += 1;
    }
    counts
}
