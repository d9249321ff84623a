//! Observed task states reported by agents.

use shoal_model::spec::TaskReport;
use shoal_model::spec::{Task, Timestamp};

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
