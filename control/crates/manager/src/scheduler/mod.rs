//! The scheduler: gives pending tasks a node.
//!
//! Nodes are filtered (ready and active, constraints, free resources,
//! host-mode ports, max replicas per node), then tasks are spread: over the
//! values of each `spread=` preference first, then to the node with the
//! fewest tasks of the service, then the fewest tasks overall. A task no
//! node can take stays pending with Docker's explanation
//! (`no suitable node (scheduling constraints not satisfied on 3 nodes)`).
//!
//! Tasks are placed in groups (same service, same spec version): filters
//! that cannot change are evaluated once per group and nodes sit in heaps
//! whose keys are updated as tasks land, so a group of `t` tasks over `n`
//! nodes costs O((n + t) log n).

mod bench;
mod filter;
mod spread;
mod state;

pub use bench::{bench_cluster, bench_schedule};

use std::collections::{BTreeMap, HashMap};

use shoal_model::spec::{
    Constraint, Service, SpecError, SpreadPreference, Task, TaskState, Timestamp,
};

use filter::Needs;
use spread::Branch;
use state::ClusterState;

/// What the scheduler decided for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run the task on this node.
    Assign {
        /// The task.
        task_id: String,
        /// The node chosen.
        node_id: String,
    },
    /// No node can take it now; it stays pending.
    Pending {
        /// The task.
        task_id: String,
        /// Why, in Docker's words.
        explanation: String,
    },
}

/// Errors of the [`crate::scheduler`] module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerError {
    /// A stored spec that no longer parses (it was validated on write).
    #[error("service {service_id}: invalid placement")]
    InvalidPlacement {
        /// The service.
        service_id: String,
        /// What is wrong.
        #[source]
        source: SpecError,
    },
}

/// Decides a node for every task that needs one ([`Task::needs_scheduling`]):
/// tasks without a node are placed; tasks the orchestrator already bound to
/// a node (global services) are checked against that node.
///
/// `tasks` is every task of the cluster (for counts, resources and ports);
/// tasks whose service is not in `services` are left alone.
pub fn schedule(
    nodes: &[shoal_model::spec::SchedNode],
    services: &BTreeMap<String, Service>,
    tasks: &[Task],
) -> Vec<Decision> {
    let mut cluster = ClusterState::new(nodes, services, tasks);
    let mut groups: BTreeMap<(&str, u64), Vec<&Task>> = BTreeMap::new();
    for task in tasks.iter().filter(|t| t.needs_scheduling()) {
        if services.contains_key(&task.service_id) {
            groups
                .entry((task.service_id.as_str(), task.spec_version))
                .or_default()
                .push(task);
        }
    }
    let mut decisions = Vec::new();
    for ((service_id, _), group) in groups {
        let service = &services[service_id];
        match needs_of(service_id, service, group[0]) {
            Ok((needs, prefs)) => {
                schedule_group(&mut cluster, &needs, &prefs, &group, &mut decisions);
            }
            Err(error) => decisions.extend(group.iter().map(|task| Decision::Pending {
                task_id: task.id.clone(),
                explanation: error.to_string(),
            })),
        }
    }
    decisions
}

/// What the tasks of a group need, from the first task's spec (all tasks
/// of a group share one spec version).
fn needs_of<'a>(
    service_id: &'a str,
    service: &'a Service,
    task: &Task,
) -> Result<(Needs<'a>, Vec<SpreadPreference>), SchedulerError> {
    let placement = &task.spec.placement;
    let invalid = |source| SchedulerError::InvalidPlacement {
        service_id: service_id.to_owned(),
        source,
    };
    let needs = Needs {
        service_id,
        constraints: Constraint::parse_all(&placement.constraints).map_err(invalid)?,
        resources: task.spec.resources,
        host_ports: service
            .spec
            .host_ports()
            .map(|port| (port.published, port.protocol))
            .collect(),
        max_per_node: placement.max_replicas_per_node,
    };
    let prefs = SpreadPreference::parse_all(&placement.preferences).map_err(invalid)?;
    Ok((needs, prefs))
}

/// Places one group: bound tasks first, then the free ones through the
/// spread tree.
fn schedule_group<'a>(
    cluster: &mut ClusterState<'a>,
    needs: &Needs<'a>,
    prefs: &[SpreadPreference],
    group: &[&Task],
    decisions: &mut Vec<Decision>,
) {
    let (bound, free): (Vec<&Task>, Vec<&Task>) =
        group.iter().partition(|task| task.node_id.is_some());
    for task in bound {
        decisions.push(place_bound(cluster, needs, task));
    }
    if free.is_empty() {
        return;
    }
    let eligible: Vec<usize> = (0..cluster.nodes.len())
        .filter(|&at| needs.static_check(cluster, at).is_ok())
        .collect();
    let (mut tree, _) = Branch::build(prefs, eligible, cluster, needs.service_id);
    let mut explanation: Option<String> = None;
    for task in free {
        let placed = if explanation.is_some() {
            None
        } else {
            tree.place(&mut |at| needs.dynamic_check(cluster, at).is_ok())
        };
        match placed {
            Some(at) => decisions.push(commit(cluster, needs, task, at)),
            None => {
                let why = explanation
                    .get_or_insert_with(|| needs.explain(cluster, 0..cluster.nodes.len()));
                decisions.push(Decision::Pending {
                    task_id: task.id.clone(),
                    explanation: why.clone(),
                });
            }
        }
    }
}

/// Checks a task bound to a node against that node.
fn place_bound<'a>(cluster: &mut ClusterState<'a>, needs: &Needs<'a>, task: &Task) -> Decision {
    let node_id = task.node_id.as_deref().unwrap_or_default();
    let Some(&at) = cluster.index.get(node_id) else {
        return Decision::Pending {
            task_id: task.id.clone(),
            explanation: format!("no suitable node (node {node_id} not found)"),
        };
    };
    if needs.first_failure(cluster, at).is_some() {
        return Decision::Pending {
            task_id: task.id.clone(),
            explanation: needs.explain(cluster, std::iter::once(at)),
        };
    }
    commit(cluster, needs, task, at)
}

/// Records `task` on node `at` and returns the assignment.
fn commit<'a>(
    cluster: &mut ClusterState<'a>,
    needs: &Needs<'a>,
    task: &Task,
    at: usize,
) -> Decision {
    cluster.reserve(at, &needs.resources, needs.host_ports.iter().copied());
    cluster.count(at, needs.service_id);
    Decision::Assign {
        task_id: task.id.clone(),
        node_id: cluster.nodes[at].node.id.clone(),
    }
}

/// Applies `decisions` to `tasks` (by ID) as the store write would:
/// assigned tasks get their node and state `assigned`, pending ones state
/// `pending` with the explanation as error.
pub fn apply_decisions(tasks: &mut [Task], decisions: &[Decision], now: Timestamp) {
    let index: HashMap<String, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, task)| (task.id.clone(), i))
        .collect();
    for decision in decisions {
        let (task_id, node, err) = match decision {
            Decision::Assign { task_id, node_id } => (task_id, Some(node_id), None),
            Decision::Pending {
                task_id,
                explanation,
            } => (task_id, None, Some(explanation)),
        };
        let Some(&i) = index.get(task_id) else {
            continue;
        };
        let task = &mut tasks[i];
        task.status.timestamp = now;
        if let Some(node) = node {
            task.node_id = Some(node.clone());
            task.status.state = TaskState::Assigned;
            task.status.message = "scheduler assigned task to node".to_owned();
            task.status.err = None;
        } else {
            task.status.state = TaskState::Pending;
            task.status.message = "pending task scheduling".to_owned();
            task.status.err = err.cloned();
        }
    }
}

#[cfg(test)]
mod tests;
