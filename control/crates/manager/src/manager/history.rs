//! Task history: ended tasks stay visible in `service ps`, a few per slot.

use std::collections::BTreeMap;

use super::ClusterTables;
use shoal_model::spec::Task;

/// Ended tasks kept per slot (Docker's default task history limit).
pub const TASK_HISTORY_LIMIT: usize = 5;

/// Deletes the oldest ended tasks of every slot beyond
/// [`TASK_HISTORY_LIMIT`]. Only tasks the managers no longer want count:
/// an ended task that still fills its slot (no restart) stays.
pub fn prune(state: &mut ClusterTables) {
    let mut slots: BTreeMap<(&str, u64, &str), Vec<&Task>> = BTreeMap::new();
    for task in state.tasks.values() {
        if task.status.state.is_terminal() && !task.is_wanted() {
            // Global tasks share slot 0 and are told apart by node.
            let node = if task.slot == 0 {
                task.node_id.as_deref().unwrap_or_default()
            } else {
                ""
            };
            slots
                .entry((task.service_id.as_str(), task.slot, node))
                .or_default()
                .push(task);
        }
    }
    let mut doomed: Vec<String> = Vec::new();
    for ended in slots.values_mut() {
        // Newest first; the ID breaks ties so the choice is stable.
        ended.sort_by(|a, b| {
            b.status
                .timestamp
                .cmp(&a.status.timestamp)
                .then_with(|| a.id.cmp(&b.id))
        });
        doomed.extend(
            ended
                .iter()
                .skip(TASK_HISTORY_LIMIT)
                .map(|task| task.id.clone()),
        );
    }
    for id in doomed {
        state.tasks.remove(&id);
    }
}
