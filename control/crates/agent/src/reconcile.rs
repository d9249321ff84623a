//! What to do about one assigned task, given its container (if any) and
//! what the agent remembers: a pure decision, carried out by the jobs.

use shoal_model::assignment::AssignedTask;
use shoal_model::spec::TaskState;
use shoal_runtime::{ContainerState, Status};

use super::health::HealthState;

/// What the agent remembers about one task between passes.
#[derive(Debug, Default)]
pub(crate) struct TaskMemory {
    /// A terminal state was reported: nothing more to do until the task
    /// leaves the assignment (its container is kept for its logs).
    pub(crate) ended: bool,
    /// The agent stopped it on purpose (desired shutdown).
    pub(crate) stopping: bool,
    /// A health check found it unhealthy and the agent stopped it.
    pub(crate) unhealthy: bool,
    /// Health checks of its running container, when it has a check.
    pub(crate) health: Option<HealthState>,
}

/// One step for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing to do now.
    Nothing,
    /// Create (unless created) and start its container.
    Start,
    /// Stop its container; after the drain period when it serves traffic.
    Stop {
        /// Wait for load balancers to stop sending it new connections.
        drain: bool,
    },
    /// Its observed state is `state`: report it (if not known already).
    Report {
        /// The state.
        state: TaskState,
        /// Docker's message for it.
        message: &'static str,
        /// The error, for failures.
        err: Option<String>,
    },
}

fn report(state: TaskState, message: &'static str, err: Option<String>) -> Decision {
    Decision::Report {
        state,
        message,
        err,
    }
}

/// What to do about `assigned` whose container is `container`.
pub(crate) fn decide(
    assigned: &AssignedTask,
    container: Option<&ContainerState>,
    memory: &TaskMemory,
) -> Decision {
    let task = &assigned.task;
    let desired = task.desired_state;
    let stored = task.status.state;
    let live = container.filter(|c| c.status != Status::Stopped);
    if let Some(live) = live
        && desired > TaskState::Running
    {
        return Decision::Stop {
            drain: live.status == Status::Running,
        };
    }
    if memory.ended || stored.is_terminal() {
        return Decision::Nothing;
    }
    match container {
        None => without_container(assigned),
        Some(c) if c.status == Status::Stopped => ended(assigned, c, memory),
        Some(_) if desired < TaskState::Running => Decision::Nothing,
        Some(c) if c.status == Status::Created => Decision::Start,
        Some(_) => {
            let healthy = memory.health.as_ref().is_none_or(|h| h.healthy_seen);
            if healthy {
                report(TaskState::Running, "started", None)
            } else {
                report(TaskState::Starting, "starting", None)
            }
        }
    }
}

fn without_container(assigned: &AssignedTask) -> Decision {
    let task = &assigned.task;
    match task.desired_state {
        TaskState::Running if task.status.state >= TaskState::Starting => report(
            TaskState::Failed,
            "started",
            Some("task: container is gone".to_owned()),
        ),
        TaskState::Running if task.networks.iter().any(|n| n.ip.is_none()) => {
            // The allocator has not given it its addresses yet.
            Decision::Nothing
        }
        TaskState::Running => Decision::Start,
        desired if desired > TaskState::Running => report(TaskState::Shutdown, "shutdown", None),
        _ => Decision::Nothing,
    }
}

/// How a stopped container ended, as a task state.
fn ended(assigned: &AssignedTask, container: &ContainerState, memory: &TaskMemory) -> Decision {
    if memory.stopping || assigned.task.desired_state > TaskState::Running {
        return report(TaskState::Shutdown, "shutdown", None);
    }
    if memory.unhealthy {
        return report(
            TaskState::Failed,
            "started",
            Some("unhealthy container".to_owned()),
        );
    }
    match container.exit {
        Some(exit) if exit.code == 0 => report(TaskState::Complete, "finished", None),
        Some(exit) if container.oom_killed => report(
            TaskState::Failed,
            "started",
            Some(format!(
                "task: non-zero exit ({}): OOM-killed (out of memory under its limit)",
                exit.code
            )),
        ),
        Some(exit) => report(
            TaskState::Failed,
            "started",
            Some(format!("task: non-zero exit ({})", exit.code)),
        ),
        None => report(
            TaskState::Failed,
            "started",
            Some("task: exit status unknown (it ended while the agent was not running)".to_owned()),
        ),
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
