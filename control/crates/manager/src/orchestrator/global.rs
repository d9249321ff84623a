//! Reconciliation of a global service: one task per eligible node.

use std::collections::HashSet;

use shoal_model::node::Availability;
use shoal_model::spec::{Constraint, SchedNode, Task, TaskState};

use super::slots::{self, SlotKey};
use super::tend::{Ctx, shutdown_wanted, tend_slot};
use super::{OrchestratorError, Plan};

/// Every node that takes new tasks and satisfies the constraints gets a
/// task (nodes that join later too); drained nodes, nodes that no longer
/// satisfy the constraints and removed nodes lose theirs. Down and paused
/// nodes keep their tasks but get no new ones.
pub(super) fn reconcile<F: FnMut() -> String>(
    ctx: &mut Ctx<'_, F>,
    nodes: &[SchedNode],
    tasks: &[Task],
) -> Result<Plan, OrchestratorError> {
    let constraints =
        Constraint::parse_all(&ctx.service.spec.task.placement.constraints).map_err(|source| {
            OrchestratorError::InvalidPlacement {
                service_id: ctx.service.id.clone(),
                source,
            }
        })?;
    let by_slot = slots::by_slot(ctx.service, tasks);
    let mut plan = Plan::default();
    for node in nodes {
        let key = SlotKey::Node(node.id.clone());
        let slot = by_slot.get(&key).map_or(&[][..], Vec::as_slice);
        let excluded =
            node.availability == Availability::Drain || !Constraint::all_match(&constraints, node);
        if excluded {
            shutdown_wanted(&mut plan, slot);
        } else if !node.takes_new_tasks() {
            // Down or paused: leave its tasks alone until it is back.
        } else if slots::is_occupied(slot) {
            tend_slot(ctx, &mut plan, &key, slot, &|_| false);
        } else {
            ctx.create(&mut plan, &key, TaskState::Running);
        }
    }
    let known: HashSet<&str> = nodes.iter().map(|node| node.id.as_str()).collect();
    for (key, slot) in &by_slot {
        if let SlotKey::Node(node) = key
            && !known.contains(node.as_str())
        {
            shutdown_wanted(&mut plan, slot);
        }
    }
    Ok(plan)
}
