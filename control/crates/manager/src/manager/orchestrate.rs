//! The orchestration part of a pass: services → desired tasks (slots,
//! restarts, rolling updates), tasks of removed services and of removed
//! nodes.

use std::collections::BTreeMap;

use super::outcome::PassOutcome;
use super::{ClusterTables, nodes};
use crate::orchestrator::{
    UpdateStep, apply_actions, apply_update_step, next_update_step, reconcile,
};
use shoal_model::spec::{SchedNode, Task, TaskState, Timestamp};

/// Reconciles every service, advances its update, then deals with tasks
/// whose service or node is gone.
pub fn run(
    state: &mut ClusterTables,
    now: Timestamp,
    ids: &mut impl FnMut() -> String,
    outcome: &mut PassOutcome,
) {
    let views = nodes::views(&state.nodes);
    let mut tasks: Vec<Task> = state.tasks.values().cloned().collect();
    for service in state.services.values_mut() {
        match reconcile(service, &views, &tasks, now, ids) {
            Ok(plan) => {
                apply_actions(&mut tasks, &plan.actions);
                outcome.wake(plan.wake_at);
            }
            Err(err) => outcome.errors.push(err.into()),
        }
        let step = next_update_step(service, &tasks, now, ids);
        match &step {
            UpdateStep::Advance(actions) => apply_actions(&mut tasks, actions),
            UpdateStep::Wait { until } => outcome.wake(*until),
            _ => {}
        }
        apply_update_step(service, &step, now);
    }
    state.tasks = tasks.into_iter().map(|t| (t.id.clone(), t)).collect();
    retire_removed_services(state, &views);
    orphan_on_removed_nodes(state, now);
}

/// Tasks of removed services: shut down, and deleted once they ended, never
/// reached a node, or sit on a node that is down or gone (no agent will
/// report them).
fn retire_removed_services(state: &mut ClusterTables, views: &[SchedNode]) {
    let up: BTreeMap<&str, bool> = views
        .iter()
        .map(|n| (n.id.as_str(), n.status.is_ready()))
        .collect();
    let services = &state.services;
    state.tasks.retain(|_, task| {
        if services.contains_key(&task.service_id) {
            return true;
        }
        if task.is_wanted() {
            task.desired_state = TaskState::Shutdown;
        }
        let node_up = task
            .node_id
            .as_deref()
            .is_some_and(|id| up.get(id).copied().unwrap_or(false));
        let gone = task.status.state.is_terminal() || !node_up;
        !gone
    });
}

/// Tasks still marked as running on a node that was removed from the swarm
/// will never be reported again: they are orphaned (terminal), which
/// frees their addresses.
fn orphan_on_removed_nodes(state: &mut ClusterTables, now: Timestamp) {
    let nodes = &state.nodes;
    for task in state.tasks.values_mut() {
        let removed = task
            .node_id
            .as_deref()
            .is_some_and(|id| !nodes.contains_key(id));
        if removed && !task.status.state.is_terminal() && !task.is_wanted() {
            task.status.state = TaskState::Orphaned;
            task.status.message = "node removed from the swarm".to_owned();
            task.status.timestamp = now;
        }
    }
}
