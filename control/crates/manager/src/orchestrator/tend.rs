//! Tending one slot of a service, shared by the replicated and global
//! modes: what every slot decision needs, shutting down and replacing tasks.

use shoal_model::spec::{Service, Task, TaskState, Timestamp};

use super::restart::{self, Restart};
use super::slots::SlotKey;
use super::{Action, Plan, new_task};

/// What every slot decision needs.
pub(super) struct Ctx<'a, F> {
    /// The service.
    pub service: &'a Service,
    /// The current time.
    pub now: Timestamp,
    /// Makes task IDs.
    pub ids: &'a mut F,
}

impl<F: FnMut() -> String> Ctx<'_, F> {
    /// Plans a new task for `key`.
    pub fn create(&mut self, plan: &mut Plan, key: &SlotKey, desired: TaskState) {
        let task = new_task(self.service, key, desired, self.now, (self.ids)());
        plan.actions.push(Action::Create(Box::new(task)));
    }
}

/// Shuts down every task of a slot the managers still want.
pub(super) fn shutdown_wanted(plan: &mut Plan, slot: &[&Task]) {
    for task in slot.iter().filter(|task| task.is_wanted()) {
        plan.actions.push(Action::Shutdown {
            task_id: task.id.clone(),
        });
    }
}

/// Keeps one occupied slot healthy: tasks on `lost` nodes are shut down and
/// replaced; stopped tasks are replaced per the restart policy (or just
/// marked shut down when another task of the slot already runs).
pub(super) fn tend_slot<F: FnMut() -> String>(
    ctx: &mut Ctx<'_, F>,
    plan: &mut Plan,
    key: &SlotKey,
    slot: &[&Task],
    lost: &dyn Fn(&Task) -> bool,
) {
    let wanted: Vec<&Task> = slot.iter().copied().filter(|t| t.is_wanted()).collect();
    let mut replace = false;
    let mut healthy = 0;
    for task in wanted.iter().filter(|t| !t.status.state.is_terminal()) {
        if lost(task) {
            plan.actions.push(Action::Shutdown {
                task_id: task.id.clone(),
            });
            replace = true;
        } else {
            healthy += 1;
        }
    }
    let policy = &ctx.service.spec.task.restart_policy;
    for task in wanted.iter().filter(|t| t.status.state.is_terminal()) {
        let verdict = if healthy > 0 {
            Restart::Now
        } else {
            restart::decide(policy, task, slot, ctx.now)
        };
        match verdict {
            Restart::Never => {}
            Restart::At(at) => plan.wake(at),
            Restart::Now => {
                plan.actions.push(Action::Shutdown {
                    task_id: task.id.clone(),
                });
                replace = true;
            }
        }
    }
    if replace && healthy == 0 {
        ctx.create(plan, key, TaskState::Running);
    }
}
