//! One manager pass over the tables: allocate, orchestrate, allocate task
//! addresses, schedule, prune history. Pure: the driver loads the tables,
//! runs the pass and proposes the diff.

use super::{ClusterTables, ManagerError, allocate, history, orchestrate, schedule};
use crate::spec::Timestamp;

/// What a pass found besides the new tables.
#[derive(Debug, Default)]
pub struct PassOutcome {
    /// When to run again even if nothing changes (restart delays, update
    /// delays and monitor periods running out).
    pub wake_at: Option<Timestamp>,
    /// What failed (the rest of the pass went on; the failed part is
    /// retried next pass).
    pub errors: Vec<ManagerError>,
}

impl PassOutcome {
    /// Wakes at `at` if that is earlier than the wake-up already planned.
    pub fn wake(&mut self, at: Option<Timestamp>) {
        if let Some(at) = at {
            self.wake_at = Some(self.wake_at.map_or(at, |current| current.min(at)));
        }
    }
}

/// Runs one pass on `before` at `now`; `ids` makes object IDs. Returns the
/// tables as they should be.
pub fn run_pass(
    before: &ClusterTables,
    now: Timestamp,
    ids: &mut impl FnMut() -> String,
) -> (ClusterTables, PassOutcome) {
    let mut state = before.clone();
    let mut outcome = PassOutcome::default();
    let mut allocator = match allocate::ensure_allocator(&mut state, now, ids) {
        Ok(allocator) => Some(allocator.clone()),
        Err(err) => {
            outcome.errors.push(err);
            None
        }
    };
    if let Some(allocator) = allocator.as_mut() {
        allocate::sync_networks(&mut state, allocator);
        allocate::endpoints(&mut state, allocator, &mut outcome);
    }
    orchestrate::run(&mut state, now, ids, &mut outcome);
    if let Some(allocator) = allocator.as_mut() {
        allocate::tasks(&mut state, allocator, now);
    }
    schedule::run(&mut state, now);
    history::prune(&mut state);
    if let Some(mut allocator) = allocator {
        allocate::release_deleted(before, &state, &mut allocator);
        state.allocator = Some(allocator);
    }
    (state, outcome)
}
