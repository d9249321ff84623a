//! What the scheduler knows of each node while it places tasks: free
//! resources, task counts and host ports in use, kept up to date as tasks
//! are placed so no node is ever rescored from scratch.

use std::collections::{HashMap, HashSet};

use shoal_model::spec::{Protocol, Resources, SchedNode, Service, Task};

/// One node with its running totals.
#[derive(Debug)]
pub(super) struct NodeState<'a> {
    /// The node.
    pub node: &'a SchedNode,
    /// Resources not reserved by tasks on it.
    pub available: Resources,
    /// Tasks counted on it (all services).
    pub total_tasks: u64,
    /// Host-mode ports its tasks publish.
    pub host_ports: HashSet<(u16, Protocol)>,
}

/// All nodes plus per-service task counts per node.
#[derive(Debug)]
pub(super) struct ClusterState<'a> {
    /// Nodes, in the order given.
    pub nodes: Vec<NodeState<'a>>,
    /// Node ID → index in `nodes`.
    pub index: HashMap<&'a str, usize>,
    /// Service ID → node index → tasks of that service on the node.
    pub per_service: HashMap<&'a str, HashMap<usize, u64>>,
}

impl<'a> ClusterState<'a> {
    /// Counts what the existing `tasks` hold on `nodes`.
    pub fn new(
        nodes: &'a [SchedNode],
        services: &'a std::collections::BTreeMap<String, Service>,
        tasks: &'a [Task],
    ) -> ClusterState<'a> {
        let mut state = ClusterState {
            nodes: nodes
                .iter()
                .map(|node| NodeState {
                    node,
                    available: node.resources,
                    total_tasks: 0,
                    host_ports: HashSet::new(),
                })
                .collect(),
            index: nodes
                .iter()
                .enumerate()
                .map(|(i, node)| (node.id.as_str(), i))
                .collect(),
            per_service: HashMap::new(),
        };
        for task in tasks {
            let Some(node) = task.node_id.as_deref() else {
                continue;
            };
            let Some(&at) = state.index.get(node) else {
                continue;
            };
            if task.holds_node() {
                let host_ports = services.get(&task.service_id).map(|s| &s.spec);
                state.reserve(
                    at,
                    &task.spec.resources,
                    host_ports
                        .into_iter()
                        .flat_map(|s| s.host_ports())
                        .map(|p| (p.published, p.protocol)),
                );
            }
            if task.counts_on_node() {
                state.count(at, &task.service_id);
            }
        }
        state
    }

    /// Takes `resources` and `host_ports` on node `at`.
    pub fn reserve(
        &mut self,
        at: usize,
        resources: &Resources,
        host_ports: impl Iterator<Item = (u16, Protocol)>,
    ) {
        let node = &mut self.nodes[at];
        node.available = node.available.saturating_sub(resources);
        node.host_ports.extend(host_ports);
    }

    /// Counts one more task of `service` on node `at`.
    pub fn count(&mut self, at: usize, service: &'a str) {
        self.nodes[at].total_tasks += 1;
        *self
            .per_service
            .entry(service)
            .or_default()
            .entry(at)
            .or_default() += 1;
    }

    /// Tasks of `service` on node `at`.
    pub fn service_tasks(&self, service: &str, at: usize) -> u64 {
        self.per_service
            .get(service)
            .and_then(|counts| counts.get(&at))
            .copied()
            .unwrap_or(0)
    }
}
