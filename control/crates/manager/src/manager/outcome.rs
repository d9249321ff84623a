//! What a manager pass found besides the new tables.

use super::ManagerError;
use shoal_model::spec::Timestamp;

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
