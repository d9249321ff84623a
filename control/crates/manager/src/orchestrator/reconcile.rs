//! Reconciliation of a service: the entry point for both modes, and the
//! replicated mode (the global mode is in `global`; both tend their slots
//! with `tend`).

use std::collections::HashMap;

use shoal_model::node::Availability;
use shoal_model::spec::{SchedNode, Service, ServiceMode, Task, TaskState, Timestamp};

use super::slots::{self, SlotKey};
use super::tend::{Ctx, shutdown_wanted, tend_slot};
use super::{OrchestratorError, Plan, global};

/// Plans what `service` needs now: new tasks for empty slots, shutdowns of
/// surplus slots and of tasks on drained, down or removed nodes, and
/// replacements of stopped tasks as the restart policy allows. `tasks` may
/// hold other services' tasks; they are ignored. `ids` makes task IDs.
pub fn reconcile(
    service: &Service,
    nodes: &[SchedNode],
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
    nodes: &[SchedNode],
    tasks: &[Task],
) -> Plan {
    let nodes: HashMap<&str, &SchedNode> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let lost = |task: &Task| match task.node_id.as_deref() {
        None => false,
        Some(id) => nodes
            .get(id)
            .is_none_or(|node| !node.status.is_ready() || node.availability == Availability::Drain),
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
