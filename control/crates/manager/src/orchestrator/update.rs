//! Rolling updates and rollbacks as a state machine over the tasks.
//!
//! Everything is derived from the service and its tasks, so a new leader
//! picks an update up where the old one left it:
//! - a task is *current* when its template equals the service's (so after a
//!   rollback the tasks that never changed are current again);
//! - a slot is *dirty* when it has wanted tasks but no current one;
//! - a batch is `parallelism` dirty slots (0 = all); the next batch starts
//!   when no slot is in flight and `delay` has passed since the last new
//!   task started running;
//! - stop-first shuts the old task down and creates the new one with desired
//!   state `ready`, started once the old one has stopped; start-first creates
//!   the new one running and shuts the old one down once the new one runs;
//! - current tasks that stop on their own after the update began are
//!   failures; more than `max_failure_ratio` of the slots failing triggers the
//!   failure action;
//! - after the last batch the update completes once `monitor` has passed
//!   without the ratio being crossed.

use shoal_model::spec::{
    FailureAction, Service, Task, TaskState, Timestamp, UpdateOrder, UpdateState,
};

use super::slots::{self, SlotKey};
use super::{Action, new_task};

/// The next thing a rolling update (or rollback) wants.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateStep {
    /// No update or rollback is running.
    Idle,
    /// Apply these actions (a new batch, or finishing slots in flight).
    Advance(Vec<Action>),
    /// Nothing to do until `until` (delay or monitor period), or until a
    /// task changes state (`None`).
    Wait {
        /// When to look again.
        until: Option<Timestamp>,
    },
    /// Every slot runs the spec and the monitor period passed.
    Complete,
    /// Too many failures and the failure action is pause (or a rollback
    /// failed).
    Pause {
        /// Docker's message.
        message: String,
    },
    /// Too many failures and the failure action is rollback.
    Rollback {
        /// Docker's message.
        message: String,
    },
}

/// Decides the next step of the update or rollback of `service` given its
/// tasks (other services' tasks are ignored) and the time.
pub fn next_update_step(
    service: &Service,
    tasks: &[Task],
    now: Timestamp,
    ids: &mut impl FnMut() -> String,
) -> UpdateStep {
    let Some(status) = service
        .update_status
        .as_ref()
        .filter(|_| service.is_updating())
    else {
        return UpdateStep::Idle;
    };
    let started = status.started_at;
    let is_current = |task: &Task| task.spec == service.spec.task;
    let by_slot = slots::by_slot(service, tasks);
    let occupied = by_slot
        .values()
        .filter(|slot| slots::is_occupied(slot))
        .count();
    if let Some(step) = failure_step(service, tasks, started, occupied, &is_current) {
        return step;
    }
    let mut progress = Vec::new();
    let mut in_flight = false;
    let mut dirty = Vec::new();
    for (key, slot) in &by_slot {
        let wanted: Vec<&Task> = slot.iter().copied().filter(|t| t.is_wanted()).collect();
        let (new, old): (Vec<&Task>, Vec<&Task>) = wanted.iter().partition(|t| is_current(t));
        if new.is_empty() {
            if !old.is_empty() {
                dirty.push((key, old));
            }
            continue;
        }
        in_flight |= advance_slot(&new, &old, &mut progress);
    }
    if !progress.is_empty() {
        return UpdateStep::Advance(progress);
    }
    if in_flight {
        return UpdateStep::Wait { until: None };
    }
    let last_running = tasks
        .iter()
        .filter(|t| t.service_id == service.id && is_current(t))
        .filter(|t| t.status.state == TaskState::Running && t.status.timestamp >= started)
        .map(|t| t.status.timestamp)
        .max();
    let paced = Pace {
        started,
        last_running,
        now,
    };
    next_batch(service, &dirty, paced, ids)
}

/// When the update began, when its newest task started running, and now.
struct Pace {
    started: Timestamp,
    last_running: Option<Timestamp>,
    now: Timestamp,
}

/// With no slot in flight: the next batch of `dirty` slots once the delay
/// has passed, or completion once nothing is dirty and the monitor period
/// has passed.
fn next_batch(
    service: &Service,
    dirty: &[(&SlotKey, Vec<&Task>)],
    pace: Pace,
    ids: &mut impl FnMut() -> String,
) -> UpdateStep {
    let config = service.active_update_config();
    let Pace {
        started,
        last_running,
        now,
    } = pace;
    if dirty.is_empty() {
        let monitor_end = last_running.unwrap_or(started).after(config.monitor.0);
        return if now < monitor_end {
            UpdateStep::Wait {
                until: Some(monitor_end),
            }
        } else {
            UpdateStep::Complete
        };
    }
    if let Some(ready_at) = last_running.map(|at| at.after(config.delay.0))
        && now < ready_at
    {
        return UpdateStep::Wait {
            until: Some(ready_at),
        };
    }
    let batch = match usize::try_from(config.parallelism) {
        Ok(0) | Err(_) => dirty.len(),
        Ok(n) => n.min(dirty.len()),
    };
    let mut actions = Vec::new();
    for (key, old) in &dirty[..batch] {
        replace_slot(service, key, old, now, ids(), &mut actions);
    }
    UpdateStep::Advance(actions)
}

/// Checks the failure ratio; `Some` when the failure action applies.
fn failure_step(
    service: &Service,
    tasks: &[Task],
    started: Timestamp,
    occupied: usize,
    is_current: &dyn Fn(&Task) -> bool,
) -> Option<UpdateStep> {
    let failed: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.service_id == service.id && is_current(t))
        .filter(|t| t.status.state.is_terminal() && t.status.state != TaskState::Shutdown)
        .filter(|t| t.status.timestamp >= started)
        .collect();
    let config = service.active_update_config();
    let ratio = failed.len() as f64 / occupied.max(1) as f64;
    let last = failed.iter().max_by_key(|t| t.status.timestamp)?;
    if ratio <= config.max_failure_ratio {
        return None;
    }
    let what = if service.is_rolling_back() {
        "rollback"
    } else {
        "update"
    };
    let cause = format!("due to failure or early termination of task {}", last.id);
    match config.failure_action {
        FailureAction::Continue => None,
        FailureAction::Rollback if !service.is_rolling_back() => Some(UpdateStep::Rollback {
            message: format!("update rolled back {cause}"),
        }),
        FailureAction::Pause | FailureAction::Rollback => Some(UpdateStep::Pause {
            message: format!("{what} paused {cause}"),
        }),
    }
}

/// Moves a slot that has its new task along; returns whether it is still
/// in flight.
fn advance_slot(new: &[&Task], old: &[&Task], progress: &mut Vec<Action>) -> bool {
    let old_stopped = old.iter().all(|t| t.status.state.is_terminal());
    let mut in_flight = false;
    for task in new {
        let state = task.status.state;
        if task.desired_state == TaskState::Ready {
            if old_stopped {
                progress.push(Action::Start {
                    task_id: task.id.clone(),
                });
            }
            in_flight = true;
        } else if state == TaskState::Running {
            // Start-first: the new task runs, the old one may go.
            progress.extend(old.iter().map(|t| Action::Shutdown {
                task_id: t.id.clone(),
            }));
        } else if !state.is_terminal() {
            in_flight = true;
        }
    }
    in_flight
}

/// Replaces the old tasks of one dirty slot per the update order.
fn replace_slot(
    service: &Service,
    key: &SlotKey,
    old: &[&Task],
    now: Timestamp,
    id: String,
    actions: &mut Vec<Action>,
) {
    let order = service.active_update_config().order;
    let desired =
        if order == UpdateOrder::StopFirst && old.iter().any(|t| !t.status.state.is_terminal()) {
            TaskState::Ready
        } else {
            TaskState::Running
        };
    if order == UpdateOrder::StopFirst {
        actions.extend(old.iter().map(|t| Action::Shutdown {
            task_id: t.id.clone(),
        }));
    }
    let mut task = new_task(service, key, desired, now, id);
    if let SlotKey::Node(node) = key {
        task.node_id = Some(node.clone());
    }
    actions.push(Action::Create(Box::new(task)));
}

/// Records what `step` means for the service's update status: completion,
/// pause, or the start of a rollback (the spec swaps back).
pub fn apply_update_step(service: &mut Service, step: &UpdateStep, now: Timestamp) {
    let rolling_back = service.is_rolling_back();
    let (state, message) = match step {
        UpdateStep::Idle | UpdateStep::Advance(_) | UpdateStep::Wait { .. } => return,
        UpdateStep::Rollback { message } => {
            service.begin_rollback(now, message);
            return;
        }
        UpdateStep::Complete if rolling_back => {
            (UpdateState::RollbackCompleted, "rollback completed")
        }
        UpdateStep::Complete => (UpdateState::Completed, "update completed"),
        UpdateStep::Pause { message } if rolling_back => {
            (UpdateState::RollbackPaused, message.as_str())
        }
        UpdateStep::Pause { message } => (UpdateState::Paused, message.as_str()),
    };
    let message = message.to_owned();
    if let Some(status) = service.update_status.as_mut() {
        status.state = state;
        status.completed_at = Some(now);
        status.message = message;
    }
}
