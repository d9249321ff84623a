//! Task status reports on their way to the leader: the latest state per
//! task, sent in batches, kept until a send succeeds.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use shoal_model::spec::TaskReport;
use shoal_model::spec::{TaskState, TaskStatus, Timestamp};

/// How long after a delivered report the same state is not sent again
/// even though the assignment does not show it yet (it is on its way back
/// through the store); after that it is sent again.
const RESEND_AFTER: Duration = Duration::from_secs(10);

/// Reports waiting to be sent, and what was last delivered per task.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    pending: BTreeMap<String, TaskStatus>,
    delivered: HashMap<String, (TaskState, Instant)>,
}

/// The current time as tasks record it.
pub(crate) fn now_timestamp() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    Timestamp(millis)
}

/// A status entered now.
pub(crate) fn status(state: TaskState, message: &str, err: Option<String>) -> TaskStatus {
    TaskStatus {
        state,
        message: message.to_owned(),
        err,
        timestamp: now_timestamp(),
    }
}

impl Reports {
    /// Queues `status` for `task_id`, replacing any unsent one.
    pub(crate) fn queue(&mut self, task_id: &str, status: TaskStatus) {
        self.pending.insert(task_id.to_owned(), status);
    }

    /// Queues `status` unless it is already known: the store shows
    /// `stored`, the same state waits to be sent, or it was delivered
    /// recently.
    pub(crate) fn ensure(&mut self, task_id: &str, stored: TaskState, status: TaskStatus) {
        if stored == status.state {
            return;
        }
        if self
            .pending
            .get(task_id)
            .is_some_and(|p| p.state == status.state)
        {
            return;
        }
        let recent = self
            .delivered
            .get(task_id)
            .is_some_and(|(state, at)| *state == status.state && at.elapsed() < RESEND_AFTER);
        if !recent {
            self.queue(task_id, status);
        }
    }

    /// The reports to send now.
    pub(crate) fn batch(&self) -> Vec<TaskReport> {
        self.pending
            .iter()
            .map(|(task_id, status)| TaskReport {
                task_id: task_id.clone(),
                status: status.clone(),
            })
            .collect()
    }

    /// Notes that `batch` arrived: those not replaced since are done.
    pub(crate) fn delivered(&mut self, batch: &[TaskReport]) {
        let now = Instant::now();
        for report in batch {
            if self.pending.get(&report.task_id) == Some(&report.status) {
                self.pending.remove(&report.task_id);
            }
            self.delivered
                .insert(report.task_id.clone(), (report.status.state, now));
        }
    }

    /// Forgets tasks no longer assigned.
    pub(crate) fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.pending.retain(|id, _| keep(id));
        self.delivered.retain(|id, _| keep(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_latest_state_is_sent_and_delivered_ones_are_not_repeated() {
        let mut r = Reports::default();
        r.queue("t", status(TaskState::Preparing, "preparing", None));
        r.queue("t", status(TaskState::Running, "started", None));
        let batch = r.batch();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].status.state, TaskState::Running);
        r.delivered(&batch);
        assert!(r.batch().is_empty());
        // The store has not caught up yet: no resend right away.
        r.ensure(
            "t",
            TaskState::Preparing,
            status(TaskState::Running, "", None),
        );
        assert!(r.batch().is_empty());
        // Already in the store: nothing to send.
        r.ensure(
            "u",
            TaskState::Running,
            status(TaskState::Running, "", None),
        );
        assert!(r.batch().is_empty());
        r.ensure("u", TaskState::Running, status(TaskState::Failed, "", None));
        assert_eq!(r.batch().len(), 1);
    }

    #[test]
    fn a_report_replaced_while_in_flight_stays_pending() {
        let mut r = Reports::default();
        r.queue("t", status(TaskState::Starting, "starting", None));
        let batch = r.batch();
        r.queue("t", status(TaskState::Running, "started", None));
        r.delivered(&batch);
        assert_eq!(r.batch()[0].status.state, TaskState::Running);
    }
}
