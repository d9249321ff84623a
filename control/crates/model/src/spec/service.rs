//! [`Service`]: a spec as stored, with its version and update status.

use serde::{Deserialize, Serialize};

use super::{ServiceSpec, Timestamp, UpdateConfig};

/// A service as the store holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Service ID.
    pub id: String,
    /// The current spec.
    pub spec: ServiceSpec,
    /// The spec before the last update (what a rollback returns to).
    #[serde(default)]
    pub previous_spec: Option<ServiceSpec>,
    /// Bumped at every spec change; tasks record the version they were
    /// made from.
    pub version: u64,
    /// Progress of the last update or rollback.
    #[serde(default)]
    pub update_status: Option<UpdateStatus>,
    /// Creation time (seconds since the epoch; 0 when unknown). Not named
    /// `created_at`: the API's service view flattens the service next to
    /// its own `created_at`.
    #[serde(default)]
    pub created_at_secs: u64,
    /// Time of the last spec change (seconds since the epoch).
    #[serde(default)]
    pub updated_at_secs: u64,
}

/// Where an update or rollback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateState {
    /// Replacing tasks with the new spec.
    Updating,
    /// Stopped after failures; a new update resumes.
    Paused,
    /// Every task runs the new spec.
    Completed,
    /// Replacing tasks with the previous spec.
    RollbackStarted,
    /// The rollback stopped after failures.
    RollbackPaused,
    /// Every task runs the previous spec again.
    RollbackCompleted,
}

/// Progress of an update, as `service inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStatus {
    /// Current state.
    pub state: UpdateState,
    /// When the update (or rollback) began.
    pub started_at: Timestamp,
    /// When it completed, paused or was rolled back.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    /// Why it is in this state (`update paused due to failure ...`).
    #[serde(default)]
    pub message: String,
}

impl Service {
    /// A new service at version 1 without update history.
    pub fn new(id: &str, spec: ServiceSpec) -> Service {
        Service {
            id: id.to_owned(),
            spec,
            previous_spec: None,
            version: 1,
            update_status: None,
            created_at_secs: 0,
            updated_at_secs: 0,
        }
    }

    /// Whether an update or rollback is under way.
    pub fn is_updating(&self) -> bool {
        matches!(
            self.update_status.as_ref().map(|status| status.state),
            Some(UpdateState::Updating | UpdateState::RollbackStarted)
        )
    }

    /// Whether the running update is a rollback.
    pub fn is_rolling_back(&self) -> bool {
        matches!(
            self.update_status.as_ref().map(|status| status.state),
            Some(UpdateState::RollbackStarted | UpdateState::RollbackPaused)
        )
    }

    /// The config the current update follows: the rollback config during a
    /// rollback, the update config otherwise.
    pub fn active_update_config(&self) -> &UpdateConfig {
        if self.is_rolling_back() {
            &self.spec.rollback_config
        } else {
            &self.spec.update_config
        }
    }

    /// Replaces the spec with `spec`; when the task template changed this
    /// starts a rolling update (a change of replicas or ports alone needs
    /// no task replaced, and leaves the update status as it was).
    pub fn begin_update(&mut self, spec: ServiceSpec, now: Timestamp) {
        let old = std::mem::replace(&mut self.spec, spec);
        let template_changed = old.task != self.spec.task;
        self.previous_spec = Some(old);
        self.version += 1;
        if !template_changed {
            return;
        }
        self.update_status = Some(UpdateStatus {
            state: UpdateState::Updating,
            started_at: now,
            completed_at: None,
            message: "update in progress".to_owned(),
        });
    }

    /// Swaps back to the previous spec and starts a rollback; `false` (and
    /// no change) when there is no previous spec.
    pub fn begin_rollback(&mut self, now: Timestamp, message: &str) -> bool {
        let Some(previous) = self.previous_spec.take() else {
            return false;
        };
        let failed = std::mem::replace(&mut self.spec, previous);
        self.previous_spec = Some(failed);
        self.version += 1;
        self.update_status = Some(UpdateStatus {
            state: UpdateState::RollbackStarted,
            started_at: now,
            completed_at: None,
            message: message.to_owned(),
        });
        true
    }
}
