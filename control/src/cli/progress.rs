//! The convergence view of `service create|update|scale|rollback`: which
//! task stands for each slot (or node), whether the service converged or
//! cannot, and the lines Docker prints for it
//! (`1/3: running   [=====...>]`). Pure: [`super::watch`] polls and prints.

use std::collections::BTreeMap;

use shoal_control::api::{ServiceView, TaskView};
use shoal_control::spec::{RestartCondition, ServiceMode, TaskState};

use super::humanize::short_id;

/// One line of a frame; `key` identifies it across frames (so output that
/// is not a terminal repeats only the lines that changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Stable identity: `overall`, the slot label, `verify`.
    pub key: String,
    /// What is printed.
    pub text: String,
}

impl Line {
    /// A line with this key and text.
    pub fn new(key: &str, text: String) -> Line {
        Line {
            key: key.to_owned(),
            text,
        }
    }
}

/// One place a task is wanted: a replica slot, or a node of a global
/// service, with the task that stands for it now.
#[derive(Debug, Clone)]
pub struct Slot<'a> {
    /// `2/3` (replicated) or the node ID (global).
    pub label: String,
    /// `web.2`, for error messages.
    pub name: String,
    /// The most relevant task, if there is one yet.
    pub task: Option<&'a TaskView>,
    /// Tasks of this slot that ended from the current template.
    pub ended_current: u64,
}

/// What the tasks of a service say about its convergence.
#[derive(Debug, Clone)]
pub struct Assessment<'a> {
    /// Tasks wanted.
    pub desired: u64,
    /// Slots whose task runs and is made from the current template.
    pub running: u64,
    /// Every slot, in order.
    pub slots: Vec<Slot<'a>>,
    /// Tasks no longer wanted that still run on a live node (an update's
    /// old version, a scale-down's extra task, draining and then stopped).
    pub stopping: u64,
}

/// Whether `view`'s task runs and is made from the service's current
/// template. The template, not the version, decides: a change of replicas
/// or ports bumps the version but leaves running tasks current (the
/// orchestrator's own rule).
pub fn is_current_and_running(service: &ServiceView, view: &TaskView) -> bool {
    let task = &view.task;
    task.is_wanted()
        && task.desired_state == TaskState::Running
        && task.status.state == TaskState::Running
        && task.spec == service.service.spec.task
}

/// Whether `view`'s task was told to stop but still runs on a node that is
/// up (a down node's tasks report nothing more: they do not count).
fn still_stopping(view: &TaskView) -> bool {
    let state = view.task.status.state;
    !view.task.is_wanted()
        && !view.node_down
        && (TaskState::Starting..=TaskState::Running).contains(&state)
}

/// The task standing for a slot: a wanted one from the current template,
/// else any wanted one, else the one that changed state last.
fn most_relevant<'a>(service: &ServiceView, tasks: &[&'a TaskView]) -> Option<&'a TaskView> {
    let template = &service.service.spec.task;
    let rank = |view: &&TaskView| {
        let task = &view.task;
        (
            task.is_wanted() && task.spec == *template,
            task.is_wanted(),
            task.status.timestamp,
        )
    };
    tasks.iter().copied().max_by_key(rank)
}

/// Sorts `tasks` of `service` into slots and counts what runs.
pub fn assess<'a>(service: &ServiceView, tasks: &'a [TaskView]) -> Assessment<'a> {
    let spec = &service.service.spec;
    let mut groups: BTreeMap<String, Vec<&TaskView>> = BTreeMap::new();
    let (desired, labels): (u64, Vec<(String, String)>) = match spec.mode {
        ServiceMode::Replicated { replicas } => {
            for view in tasks
                .iter()
                .filter(|v| (1..=replicas).contains(&v.task.slot))
            {
                groups
                    .entry(view.task.slot.to_string())
                    .or_default()
                    .push(view);
            }
            let labels = (1..=replicas)
                .map(|slot| (slot.to_string(), format!("{slot}/{replicas}")))
                .collect();
            (replicas, labels)
        }
        ServiceMode::Global => {
            for view in tasks {
                let node = view.task.node_id.clone().unwrap_or_default();
                groups.entry(node).or_default().push(view);
            }
            // Nodes the managers still want a task on.
            groups.retain(|_, group| group.iter().any(|v| v.task.is_wanted()));
            let labels = groups
                .keys()
                .map(|node| (node.clone(), short_id(node, false).to_owned()))
                .collect();
            (service.desired, labels)
        }
    };
    let slots: Vec<Slot<'a>> = labels
        .into_iter()
        .map(|(key, label)| {
            let group = groups.remove(&key).unwrap_or_default();
            let task = most_relevant(service, &group);
            let ended_current = group
                .iter()
                .filter(|v| v.task.status.state.is_terminal() && v.task.spec == spec.task)
                .count() as u64;
            Slot {
                name: task.map_or_else(|| format!("{}.{key}", spec.name), |t| t.name.clone()),
                label,
                task,
                ended_current,
            }
        })
        .collect();
    let running = slots
        .iter()
        .filter(|slot| {
            slot.task
                .is_some_and(|t| is_current_and_running(service, t))
        })
        .count() as u64;
    Assessment {
        desired,
        running,
        slots,
        stopping: tasks.iter().filter(|v| still_stopping(v)).count() as u64,
    }
}

impl Assessment<'_> {
    /// Every wanted task runs from the current template, and no task the
    /// managers stopped still serves: after "converged" only the new
    /// version answers.
    pub fn converged(&self) -> bool {
        self.running == self.desired
            && self.slots.len() as u64 >= self.desired
            && self.stopping == 0
    }

    /// Slots whose task ended and will not be replaced (restart policy
    /// `none`, `on-failure` after a clean exit, or restarts used up): the
    /// service cannot converge. Each entry is `web.1: <error or state>`.
    pub fn given_up(&self, service: &ServiceView) -> Vec<String> {
        let policy = &service.service.spec.task.restart_policy;
        let template = &service.service.spec.task;
        self.slots
            .iter()
            .filter_map(|slot| {
                let task = &slot.task?.task;
                let state = task.status.state;
                if !state.is_terminal() || task.spec != *template {
                    return None;
                }
                let no_restart = match policy.condition {
                    RestartCondition::None => true,
                    RestartCondition::OnFailure => state == TaskState::Complete,
                    RestartCondition::Any => false,
                };
                let used_up = policy.max_attempts > 0
                    && policy.window.is_zero()
                    && slot.ended_current > policy.max_attempts;
                (no_restart || used_up).then(|| slot_problem(slot))
            })
            .collect()
    }

    /// `web.2: no suitable node (...)` for every slot whose task reports an
    /// error or has ended, for messages when the view gives up.
    pub fn problems(&self) -> Vec<String> {
        self.slots
            .iter()
            .filter(|slot| {
                slot.task.is_some_and(|t| {
                    t.task.status.err.as_deref().is_some_and(|e| !e.is_empty())
                        || t.task.status.state.is_terminal()
                })
            })
            .map(slot_problem)
            .collect()
    }
}

fn slot_problem(slot: &Slot<'_>) -> String {
    let Some(view) = slot.task else {
        return format!("{}: no task yet", slot.name);
    };
    let status = &view.task.status;
    match status.err.as_deref() {
        Some(err) if !err.is_empty() => format!("{}: {err}", slot.name),
        _ => format!("{}: task {}", slot.name, status.state.name()),
    }
}

/// Width of the state column: Docker pads to its longest stage name.
const STATE_WIDTH: usize = 9;
/// Width of the bar between the brackets, without the arrow head.
const BAR_WIDTH: usize = 50;
/// The stage a task reached, out of [`STAGES`] (Docker's numbering; its
/// `allocated` stage, 2, has no counterpart here).
fn stage(state: TaskState) -> usize {
    match state {
        TaskState::New => 1,
        TaskState::Pending => 3,
        TaskState::Assigned => 4,
        TaskState::Accepted => 5,
        TaskState::Preparing => 6,
        TaskState::Ready => 7,
        TaskState::Starting => 8,
        _ => STAGES,
    }
}
/// The last stage: running.
const STAGES: usize = 9;

/// `[=====>      ]` for a task at `state`.
pub fn bar(state: TaskState) -> String {
    let filled = stage(state) * BAR_WIDTH / STAGES;
    format!(
        "[{}>{}]",
        "=".repeat(filled),
        " ".repeat(BAR_WIDTH - filled)
    )
}

/// The line of one slot: the task's error if it has one, its state and
/// bar while it is on its way, its final state once it ended.
fn slot_text(slot: &Slot<'_>) -> Option<String> {
    let view = slot.task?;
    let status = &view.task.status;
    let text = match status.err.as_deref() {
        Some(err) if !err.is_empty() => one_short_line(err),
        _ if status.state.is_terminal() => status.state.name().to_owned(),
        _ => format!(
            "{:<STATE_WIDTH$} {}",
            status.state.name(),
            bar(status.state)
        ),
    };
    Some(format!("{}: {text}", slot.label))
}

/// Longest error shown in a slot line (Docker's): a line that wraps would
/// break redrawing in place.
const ERROR_WIDTH: usize = 75;

/// `err` on one line, cut to [`ERROR_WIDTH`] characters.
fn one_short_line(err: &str) -> String {
    let flat = err.replace(['\n', '\r'], " ");
    if flat.chars().count() <= ERROR_WIDTH {
        return flat;
    }
    let mut cut: String = flat.chars().take(ERROR_WIDTH - 1).collect();
    cut.push('…');
    cut
}

/// The overall line and one line per slot that has a task.
pub fn render(service: &ServiceView, assessment: &Assessment<'_>) -> Vec<Line> {
    let rolling_back = service.service.is_rolling_back();
    let prefix = if rolling_back {
        "rolling back update: "
    } else {
        ""
    };
    let mut lines = vec![Line::new(
        "overall",
        format!(
            "overall progress: {prefix}{} out of {} tasks",
            assessment.running, assessment.desired
        ),
    )];
    for slot in &assessment.slots {
        if let Some(text) = slot_text(slot) {
            lines.push(Line::new(&slot.label, text));
        }
    }
    lines
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
