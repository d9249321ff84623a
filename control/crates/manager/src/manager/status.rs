//! Observed task states reported by agents.

use std::collections::BTreeMap;

use shoal_model::cluster::TASKS;
use shoal_model::spec::TaskReport;
use shoal_model::spec::{Task, Timestamp};
use shoal_raft::Command;

use super::tables::put;
use super::{Leadership, ManagerError, driver};

/// Applies one report to `task` if it may: the task is assigned to
/// `node_id`, and the state moves forward (terminal states are final).
/// The leader's clock stamps the change; the message and error are cut
/// to [`shoal_model::spec::MAX_STATUS_TEXT_LEN`] (they go to the raft
/// log). Returns whether it changed.
pub fn apply_report(task: &mut Task, node_id: &str, report: &TaskReport, now: Timestamp) -> bool {
    let assigned_here = task.node_id.as_deref() == Some(node_id);
    let current = task.status.state;
    let next = report.status.state;
    if !assigned_here || current.is_terminal() || next <= current {
        return false;
    }
    task.status = report.status.clone().bounded();
    task.status.timestamp = now;
    true
}

/// Records the reports of the agent of `node_id` (on the leader): one
/// proposal for every task whose state moved. Reports of unknown tasks or
/// of tasks assigned elsewhere are ignored.
pub async fn record_reports<L: Leadership>(
    leader: &L,
    node_id: &str,
    reports: &[TaskReport],
) -> Result<usize, ManagerError> {
    let _writes = leader.writes().lock().await;
    let now = driver::now();
    let mut changed: BTreeMap<String, Task> = BTreeMap::new();
    for report in reports {
        let stored = changed.get(&report.task_id).cloned().or_else(|| {
            let value = leader.store().read(TASKS, &report.task_id)?;
            serde_json::from_value::<Task>(value)
                .inspect_err(|err| log::warn!("task status: task row {}: {err}", report.task_id))
                .ok()
        });
        let Some(mut task) = stored else {
            continue;
        };
        if apply_report(&mut task, node_id, report, now) {
            changed.insert(task.id.clone(), task);
        }
    }
    if changed.is_empty() {
        return Ok(0);
    }
    let commands = changed
        .values()
        .map(|task| put(TASKS, &task.id, task))
        .collect::<Result<Vec<Command>, ManagerError>>()?;
    leader.store().propose(Command::Batch(commands)).await?;
    Ok(changed.len())
}
