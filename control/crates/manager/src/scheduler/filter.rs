//! The filters a node must pass to take a task, and the explanation of a
//! task nobody can take ("no suitable node (...)", as Docker prints it).

use shoal_model::spec::{Constraint, Protocol, Resources};

use super::state::ClusterState;

/// One reason a node cannot take a task, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Filter {
    /// Down, paused or drained.
    Ready,
    /// Not enough free CPU or memory.
    Resources,
    /// Placement constraints not satisfied.
    Constraints,
    /// A host-mode port of the service is already published there.
    HostPorts,
    /// The service's per-node cap is reached.
    MaxReplicas,
}

const FILTERS: [Filter; 5] = [
    Filter::Ready,
    Filter::Resources,
    Filter::Constraints,
    Filter::HostPorts,
    Filter::MaxReplicas,
];

impl Filter {
    /// Docker's wording for `nodes` nodes failing this filter.
    fn explain(self, nodes: usize) -> String {
        let (one, many) = match self {
            Filter::Ready => (
                "1 node not available for new tasks",
                "nodes not available for new tasks",
            ),
            Filter::Resources => (
                "insufficient resources on 1 node",
                "insufficient resources on",
            ),
            Filter::Constraints => (
                "scheduling constraints not satisfied on 1 node",
                "scheduling constraints not satisfied on",
            ),
            Filter::HostPorts => (
                "host-mode port already in use on 1 node",
                "host-mode port already in use on",
            ),
            Filter::MaxReplicas => (
                "max replicas per node limit exceeded on 1 node",
                "max replicas per node limit exceeded on",
            ),
        };
        match (nodes, self) {
            (1, _) => one.to_owned(),
            (n, Filter::Ready) => format!("{n} {many}"),
            (n, _) => format!("{many} {n} nodes"),
        }
    }
}

/// What a group of identical tasks needs from a node.
#[derive(Debug)]
pub(super) struct Needs<'a> {
    /// The service the tasks belong to.
    pub service_id: &'a str,
    /// Parsed placement constraints.
    pub constraints: Vec<Constraint>,
    /// Reservation per task.
    pub resources: Resources,
    /// Host-mode ports each task publishes.
    pub host_ports: Vec<(u16, Protocol)>,
    /// Per-node cap; 0 = none.
    pub max_per_node: u64,
}

impl Needs<'_> {
    /// Filters that don't change while tasks are placed.
    pub fn static_check(&self, cluster: &ClusterState<'_>, at: usize) -> Result<(), Filter> {
        let node = cluster.nodes[at].node;
        if !node.takes_new_tasks() {
            return Err(Filter::Ready);
        }
        if !Constraint::all_match(&self.constraints, node) {
            return Err(Filter::Constraints);
        }
        Ok(())
    }

    /// Filters that placing tasks can make fail.
    pub fn dynamic_check(&self, cluster: &ClusterState<'_>, at: usize) -> Result<(), Filter> {
        let state = &cluster.nodes[at];
        if !self.resources.fits_in(&state.available) {
            return Err(Filter::Resources);
        }
        if self
            .host_ports
            .iter()
            .any(|port| state.host_ports.contains(port))
        {
            return Err(Filter::HostPorts);
        }
        if self.max_per_node != 0 && cluster.service_tasks(self.service_id, at) >= self.max_per_node
        {
            return Err(Filter::MaxReplicas);
        }
        Ok(())
    }

    /// The first filter node `at` fails, in [`FILTERS`] order.
    pub fn first_failure(&self, cluster: &ClusterState<'_>, at: usize) -> Option<Filter> {
        let checks = [
            self.static_check(cluster, at),
            self.dynamic_check(cluster, at),
        ];
        let failed: Vec<Filter> = checks.iter().filter_map(|c| c.err()).collect();
        FILTERS.into_iter().find(|f| failed.contains(f))
    }

    /// Why none of `nodes` can take a task: each node counted under the
    /// first filter it fails, most common reason first (as Swarm does).
    pub fn explain(
        &self,
        cluster: &ClusterState<'_>,
        nodes: impl Iterator<Item = usize>,
    ) -> String {
        let mut counts = [0usize; FILTERS.len()];
        for at in nodes {
            if let Some(filter) = self.first_failure(cluster, at) {
                counts[filter as usize] += 1;
            }
        }
        let mut reasons: Vec<(usize, Filter)> = FILTERS
            .into_iter()
            .map(|filter| (counts[filter as usize], filter))
            .filter(|(count, _)| *count > 0)
            .collect();
        reasons.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        if reasons.is_empty() {
            return "no suitable node".to_owned();
        }
        let parts: Vec<String> = reasons.iter().map(|(n, f)| f.explain(*n)).collect();
        format!("no suitable node ({})", parts.join("; "))
    }
}
