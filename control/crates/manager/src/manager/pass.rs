//! One manager pass over the tables: allocate, orchestrate, allocate task
//! addresses, schedule, prune history, rotate the encrypted networks' key
//! when due. Pure (but for the key's random bytes): the driver loads the tables,
//! runs the pass and proposes the diff.

use super::outcome::PassOutcome;
use super::{ClusterTables, allocate, history, keyring, orchestrate, schedule};
use shoal_model::spec::Timestamp;

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
    keyring::rotate_if_due(&mut state, now);
    if let Some(mut allocator) = allocator {
        allocate::release_deleted(before, &state, &mut allocator);
        state.allocator = Some(allocator);
    }
    (state, outcome)
}
