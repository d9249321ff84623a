//! Tests of the manager: the pure pass on hand-built tables with simulated
//! agents, and the real loop, API operations and task reports on a
//! single-node raft store.

mod api;
mod configs;
mod live;
mod pass;
mod update;

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ClusterTables, PassOutcome, ensure_allocator, network_record, run_pass};
use shoal_model::cluster::{Availability, NodeRecord, NodeRole, NodeStatus};
use shoal_model::spec::{Service, ServiceSpec, Task, TaskState, Timestamp};

/// A ready, active worker record.
pub(super) fn node_record(id: &str) -> NodeRecord {
    NodeRecord {
        id: id.to_owned(),
        raft_id: 0,
        hostname: format!("host-{id}"),
        role: NodeRole::Worker,
        desired_role: NodeRole::Worker,
        availability: Availability::Active,
        labels: BTreeMap::new(),
        addr: "127.0.0.1:1".to_owned(),
        status: NodeStatus::Ready,
        engine_version: "test".to_owned(),
        cert_not_after: 0,
        created_at: 0,
        wireguard: None,
        resources: None,
    }
}

/// The tables, a clock and predictable IDs; agents are simulated.
pub(super) struct Sim {
    pub tables: ClusterTables,
    pub now: Timestamp,
    next_id: u64,
}

impl Sim {
    /// A cluster of ready nodes with these IDs and nothing else.
    pub fn new(nodes: &[&str]) -> Sim {
        let mut tables = ClusterTables::default();
        for id in nodes {
            tables.nodes.insert((*id).to_owned(), node_record(id));
        }
        Sim {
            tables,
            now: Timestamp(1_000_000),
            next_id: 0,
        }
    }

    fn ids(&mut self) -> impl FnMut() -> String + '_ {
        || {
            self.next_id += 1;
            format!("id{:03}", self.next_id)
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.now = self.now.after(by);
    }

    /// Creates network `name` (with `subnet`, or from the pool) the way
    /// `network create` does.
    pub fn add_network(&mut self, name: &str, subnet: Option<&str>) {
        let now = self.now;
        let id = format!("net-{name}");
        let mut tables = std::mem::take(&mut self.tables);
        let allocator = ensure_allocator(&mut tables, now, &mut self.ids()).expect("allocator");
        let subnet = subnet.map(|s| s.parse().expect("subnet"));
        let network = allocator.create_network(name, subnet).expect("network");
        let record = network_record(network, id.clone(), now);
        tables.networks.insert(id, record);
        self.tables = tables;
    }

    /// Stores a new service (its ID is its name).
    pub fn add_service(&mut self, spec: ServiceSpec) -> String {
        let id = spec.name.clone();
        self.tables
            .services
            .insert(id.clone(), Service::new(&id, spec));
        id
    }

    /// The service `id`, to change it as an API call would.
    pub fn service_mut(&mut self, id: &str) -> &mut Service {
        self.tables.services.get_mut(id).expect("service")
    }

    /// One pass; the tables become its result.
    pub fn pass(&mut self) -> PassOutcome {
        let before = std::mem::take(&mut self.tables);
        let now = self.now;
        let (after, outcome) = run_pass(&before, now, &mut self.ids());
        self.tables = after;
        outcome
    }

    /// Agents on ready nodes move their tasks one step: assigned tasks
    /// wanted running start running, tasks wanted shut down stop.
    pub fn agents(&mut self) {
        let now = self.now;
        let nodes = &self.tables.nodes;
        for task in self.tables.tasks.values_mut() {
            let up = task
                .node_id
                .as_ref()
                .and_then(|id| nodes.get(id))
                .is_some_and(|node| node.status == NodeStatus::Ready);
            let state = task.status.state;
            if !up || state.is_terminal() || state < TaskState::Assigned {
                continue;
            }
            let next = match task.desired_state {
                TaskState::Running => TaskState::Running,
                TaskState::Ready => TaskState::Ready,
                _ => TaskState::Shutdown,
            };
            if next != state {
                task.status.state = next;
                task.status.timestamp = now;
            }
        }
    }

    /// Passes and agent steps until nothing changes (a few rounds at
    /// most).
    pub fn settle(&mut self) {
        for _ in 0..20 {
            let before = self.tables.clone();
            let outcome = self.pass();
            assert!(
                outcome.errors.is_empty(),
                "pass failed: {:?}",
                outcome.errors
            );
            self.agents();
            let unchanged = self.tables.diff(&before).expect("diff").is_empty();
            if unchanged {
                return;
            }
        }
        panic!("the cluster did not settle");
    }

    /// Tasks of `service` the managers want running and that run.
    pub fn running(&self, service: &str) -> Vec<&Task> {
        self.tables
            .tasks
            .values()
            .filter(|t| t.service_id == service)
            .filter(|t| {
                t.desired_state == TaskState::Running && t.status.state == TaskState::Running
            })
            .collect()
    }

    /// How many running tasks of `service` each node has.
    pub fn per_node(&self, service: &str) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for task in self.running(service) {
            *counts
                .entry(task.node_id.clone().unwrap_or_default())
                .or_default() += 1;
        }
        counts
    }
}
