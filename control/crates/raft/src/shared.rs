//! The in-memory mirror of the state machine, shared between the raft
//! state machine (the only writer) and [`super::Store`] handles (readers and
//! watchers).

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use super::command::{AppliedChanges, Tables};
use super::typ::{LogId, StoredMembership};

/// How many applied entries a watcher may fall behind before it is told it
/// lagged (and must take a fresh snapshot).
pub const WATCH_CAPACITY: usize = 4096;

/// The applied state.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppliedState {
    /// All tables.
    pub(crate) tables: Tables,
    /// The last applied log ID.
    pub(crate) last_applied: Option<LogId>,
    /// The last applied membership.
    pub(crate) membership: StoredMembership,
}

/// The applied state plus the change stream, updated together under one
/// lock so a snapshot and a subscription taken together never miss or
/// repeat a change.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<AppliedState>,
    changes: broadcast::Sender<AppliedChanges>,
}

impl Shared {
    pub(crate) fn new(state: AppliedState) -> Arc<Self> {
        let (changes, _) = broadcast::channel(WATCH_CAPACITY);
        Arc::new(Self {
            state: Mutex::new(state),
            changes,
        })
    }

    /// Locks the applied state. A poisoned lock is taken over: the state is
    /// only ever replaced whole or updated by infallible in-memory steps.
    pub(crate) fn lock(&self) -> MutexGuard<'_, AppliedState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes changes; call with the state lock held, after updating it.
    pub(crate) fn publish(&self, _guard: &MutexGuard<'_, AppliedState>, applied: AppliedChanges) {
        // No receivers is fine: nobody is watching yet.
        let _ = self.changes.send(applied);
    }

    /// Subscribes; call with the state lock held, while copying the state.
    pub(crate) fn subscribe(
        &self,
        _guard: &MutexGuard<'_, AppliedState>,
    ) -> broadcast::Receiver<AppliedChanges> {
        self.changes.subscribe()
    }
}
