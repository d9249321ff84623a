//! The restart policy: whether and when a task that stopped is replaced.

use shoal_model::spec::{RestartCondition, RestartPolicy, Task, TaskState, Timestamp};

/// What to do about a wanted task that stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restart {
    /// Leave it stopped (condition not met, or attempts used up); the slot
    /// stays filled by it so nothing else is started there.
    Never,
    /// Replace it now.
    Now,
    /// Replace it at this time (the restart delay).
    At(Timestamp),
}

/// Decides for `stopped` (a wanted task in a terminal state), given the
/// other tasks of its slot (`history`) and the time.
///
/// Earlier restarts are the slot's other tasks that ended on their own
/// (complete, failed, rejected, orphaned — not shut down on purpose); only
/// those within `window` of now count, and `max_attempts` of them use the
/// policy up.
pub(crate) fn decide(
    policy: &RestartPolicy,
    stopped: &Task,
    history: &[&Task],
    now: Timestamp,
) -> Restart {
    let state = stopped.status.state;
    let wanted = match policy.condition {
        RestartCondition::None => false,
        RestartCondition::OnFailure => state != TaskState::Complete,
        RestartCondition::Any => true,
    };
    if !wanted {
        return Restart::Never;
    }
    if policy.max_attempts > 0 {
        let since = if policy.window.is_zero() {
            Timestamp(0)
        } else {
            now.before(policy.window.0)
        };
        let restarts = history
            .iter()
            .filter(|task| task.id != stopped.id && ended_on_its_own(task))
            .filter(|task| task.status.timestamp >= since)
            .count();
        if restarts as u64 >= policy.max_attempts {
            return Restart::Never;
        }
    }
    let at = stopped.status.timestamp.after(policy.delay.0);
    if now >= at {
        Restart::Now
    } else {
        Restart::At(at)
    }
}

fn ended_on_its_own(task: &Task) -> bool {
    matches!(
        task.status.state,
        TaskState::Complete | TaskState::Failed | TaskState::Rejected | TaskState::Orphaned
    )
}
