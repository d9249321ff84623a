//! The orchestrator: turns services into desired tasks.
//!
//! [`reconcile`] keeps a service's slots filled (replicated: slots
//! `1..=replicas`, scale-down removes the highest; global: one slot per
//! eligible node), replaces tasks that stopped according to the restart
//! policy, and moves tasks off drained, down or vanished nodes.
//! [`next_update_step`] drives a rolling update or rollback one step at a
//! time. Both are pure: they read the service, the nodes, the tasks and the
//! time, and return [`Action`]s for the caller to propose to the store.
//!
//! A driver runs `reconcile`, applies its actions, then `next_update_step`
//! on the result (so a slot is never filled twice), and wakes again at the
//! earliest `wake_at` or when a task or node changes.

mod global;
mod reconcile;
mod restart;
mod slots;
mod tend;
mod update;

pub use reconcile::reconcile;
pub use slots::SlotKey;
pub use update::{UpdateStep, apply_update_step, next_update_step};

use shoal_model::spec::{
    NetworkAttachment, Service, SpecError, Task, TaskState, TaskStatus, Timestamp,
};

/// One change to the tasks table.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Store this new task.
    Create(Box<Task>),
    /// Set the task's desired state to shutdown.
    Shutdown {
        /// The task.
        task_id: String,
    },
    /// Set a task prepared with desired state ready to running.
    Start {
        /// The task.
        task_id: String,
    },
}

/// What one reconciliation decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Changes to make now.
    pub actions: Vec<Action>,
    /// When to reconcile again even if nothing changes (a restart delay
    /// running out).
    pub wake_at: Option<Timestamp>,
}

impl Plan {
    /// Wakes at `at` if that is earlier than the wake-up already planned.
    fn wake(&mut self, at: Timestamp) {
        self.wake_at = Some(self.wake_at.map_or(at, |current| current.min(at)));
    }
}

/// Errors of the [`crate::orchestrator`] module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrchestratorError {
    /// A stored spec whose constraints no longer parse.
    #[error("service {service_id}: invalid placement constraints")]
    InvalidPlacement {
        /// The service.
        service_id: String,
        /// What is wrong.
        #[source]
        source: SpecError,
    },
}

/// A new task of `service` for `slot` (0 for global) on `node` (global)
/// with the given desired state, made from the service's current spec.
pub(crate) fn new_task(
    service: &Service,
    key: &SlotKey,
    desired_state: TaskState,
    now: Timestamp,
    id: String,
) -> Task {
    let (slot, node_id) = match key {
        SlotKey::Replica(slot) => (*slot, None),
        SlotKey::Node(node) => (0, Some(node.clone())),
    };
    Task {
        id,
        service_id: service.id.clone(),
        slot,
        node_id,
        desired_state,
        status: TaskStatus {
            state: TaskState::New,
            message: "created".to_owned(),
            err: None,
            timestamp: now,
        },
        spec: service.spec.task.clone(),
        spec_version: service.version,
        networks: service
            .spec
            .task
            .networks
            .iter()
            .map(|network| NetworkAttachment {
                network: network.clone(),
                ip: None,
            })
            .collect(),
    }
}

/// Applies `actions` to `tasks` as the store writes would (tests and
/// simulations; the driver turns actions into proposals instead).
pub fn apply_actions(tasks: &mut Vec<Task>, actions: &[Action]) {
    for action in actions {
        match action {
            Action::Create(task) => tasks.push(Task::clone(task)),
            Action::Shutdown { task_id } => set_desired(tasks, task_id, TaskState::Shutdown),
            Action::Start { task_id } => set_desired(tasks, task_id, TaskState::Running),
        }
    }
}

fn set_desired(tasks: &mut [Task], task_id: &str, desired: TaskState) {
    if let Some(task) = tasks.iter_mut().find(|task| task.id == task_id) {
        task.desired_state = desired;
    }
}

#[cfg(test)]
mod tests;
