//! Slots: the places a service's tasks fill. A replicated service has
//! slots `1..=replicas`; a global service one per node. A slot keeps its
//! history (tasks that ended) next to the task that fills it now.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use shoal_model::spec::{Service, ServiceMode, Task};

/// Which slot a task fills.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SlotKey {
    /// Replica number of a replicated service.
    Replica(u64),
    /// Node of a global service's task.
    Node(String),
}

impl SlotKey {
    /// The slot `task` of `service` fills.
    pub fn of(service: &Service, task: &Task) -> SlotKey {
        match service.spec.mode {
            ServiceMode::Replicated { .. } => SlotKey::Replica(task.slot),
            ServiceMode::Global => SlotKey::Node(task.node_id.clone().unwrap_or_default()),
        }
    }
}

/// The tasks of `service` among `tasks`, by slot (history included).
pub(crate) fn by_slot<'a>(
    service: &Service,
    tasks: &'a [Task],
) -> BTreeMap<SlotKey, Vec<&'a Task>> {
    let mut slots: BTreeMap<SlotKey, Vec<&Task>> = BTreeMap::new();
    for task in tasks.iter().filter(|task| task.service_id == service.id) {
        slots
            .entry(SlotKey::of(service, task))
            .or_default()
            .push(task);
    }
    slots
}

/// Whether the slot has a task the managers still want.
pub(crate) fn is_occupied(tasks: &[&Task]) -> bool {
    tasks.iter().any(|task| task.is_wanted())
}
