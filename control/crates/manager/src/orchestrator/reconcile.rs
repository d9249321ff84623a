//! Reconciliation of a replicated service, and the slot tending shared with
//! global services.

use std::collections::HashMap;

use shoal_model::spec::{
    NodeAvailability, NodeStatus, NodeView, Service, ServiceMode, Task, TaskState, Timestamp,
};

use super::restart::{self, Restart};
use super::slots::{self, SlotKey};
use super::{Action, OrchestratorError, Plan, global, new_task};

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

/// Plans what `service` needs now: new tasks for empty slots, shutdowns of
/// surplus slots and of tasks on drained, down or removed nodes, and
/// replacements of stopped tasks as the restart policy allows. `tasks` may
/// hold other services' tasks; they are ignored. `ids` makes task IDs.
pub fn reconcile(
    service: &Service,
    nodes: &[NodeView],
    tasks: &[Task],
    now: Timestamp,
    ids: &mut impl FnMut() -> String,
) -> Result<Plan, OrchestratorError> {
    let mut ctx = Ctx { service, now, ids };
    match service.spec.mode {
        ServiceMode::Replicated { replicas } => Ok(replicated(&mut ctx, replicas, nodes, tasks)),
        ServiceMode::Global => global::reconcile(&mut ctx, nodes, tasks),
    }
}

fn replicated<F: FnMut() -> String>(
    ctx: &mut Ctx<'_, F>,
    replicas: u64,
    nodes: &[NodeView],
    tasks: &[Task],
) -> Plan {
    let nodes: HashMap<&str, &NodeView> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let lost = |task: &Task| match task.node_id.as_deref() {
        None => false,
        Some(id) => nodes.get(id).is_none_or(|node| {
            node.status == NodeStatus::Down || node.availability == NodeAvailability::Drain
        }),
    };
    let by_slot = slots::by_slot(ctx.service, tasks);
    let occupied: Vec<(&SlotKey, &Vec<&Task>)> = by_slot
        .iter()
        .filter(|(_, slot)| slots::is_occupied(slot))
        .collect();
    let keep = occupied
        .len()
        .min(usize::try_from(replicas).unwrap_or(usize::MAX));
    let (kept, surplus) = occupied.split_at(keep);
    let mut plan = Plan::default();
    // Scale down: the highest slots go.
    for (_, slot) in surplus {
        shutdown_wanted(&mut plan, slot);
    }
    for (key, slot) in kept {
        tend_slot(ctx, &mut plan, key, slot, &lost);
    }
    let mut missing = replicas.saturating_sub(kept.len() as u64);
    let mut number = 1;
    while missing > 0 {
        let key = SlotKey::Replica(number);
        if !by_slot
            .get(&key)
            .is_some_and(|slot| slots::is_occupied(slot))
        {
            ctx.create(&mut plan, &key, TaskState::Running);
            missing -= 1;
        }
        number += 1;
    }
    plan
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
