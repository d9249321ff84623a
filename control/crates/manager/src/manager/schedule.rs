//! The scheduling part of a pass: allocated pending tasks get a node.

use super::allocate::is_allocated;
use super::{ClusterTables, nodes};
use crate::scheduler::{Decision, apply_decisions, schedule};
use shoal_model::spec::{Task, TaskState, Timestamp};

/// Places every allocated task that waits for a node. A task that stays
/// pending for the same reason as before is left untouched (no rewrite
/// every pass).
pub fn run(state: &mut ClusterTables, now: Timestamp) {
    let views = nodes::views(&state.nodes);
    // Tasks still without addresses must not reach a node yet.
    let candidates: Vec<Task> = state
        .tasks
        .values()
        .filter(|task| !task.needs_scheduling() || is_allocated(task))
        .cloned()
        .collect();
    let decisions: Vec<Decision> = schedule(&views, &state.services, &candidates)
        .into_iter()
        .filter(|decision| match decision {
            Decision::Assign { .. } => true,
            Decision::Pending {
                task_id,
                explanation,
            } => state.tasks.get(task_id).is_none_or(|task| {
                task.status.state != TaskState::Pending
                    || task.status.err.as_deref() != Some(explanation.as_str())
            }),
        })
        .collect();
    if decisions.is_empty() {
        return;
    }
    let mut tasks: Vec<Task> = state.tasks.values().cloned().collect();
    apply_decisions(&mut tasks, &decisions, now);
    state.tasks = tasks.into_iter().map(|t| (t.id.clone(), t)).collect();
}
