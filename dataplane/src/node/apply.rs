//! Reconcile a node's whole data plane with a [`DesiredState`]: the overlay
//! first, then the services (a backend is reachable before it gets flows),
//! then the task veths no longer desired. Each part changes only what
//! differs, so running it twice changes nothing and a restart loses nothing.

use serde::Serialize;

use super::state::{DesiredState, StateError};
use crate::{
    lb::{self, LbApplyError, LbReport, tables::LbTables},
    overlay::{self, OverlayApplyError, OverlayReport},
    pins::PinPaths,
};

/// Errors applying a desired state.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The state is invalid; nothing was changed.
    #[error("invalid desired state: {0}")]
    State(#[from] StateError),
    /// Applying the overlay (underlay, networks, task interfaces,
    /// endpoints) failed.
    #[error(transparent)]
    Overlay(#[from] OverlayApplyError),
    /// Applying services, backends or Maglev tables failed.
    #[error(transparent)]
    Lb(#[from] LbApplyError),
}

/// What an apply changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Underlay, networks, task interfaces, endpoints and veths.
    #[serde(flatten)]
    pub overlay: OverlayReport,
    /// Services, backends, Maglev tables and conntrack timeouts.
    #[serde(flatten)]
    pub lb: LbReport,
}

impl ApplyReport {
    /// Whether the apply changed nothing at all.
    pub fn is_noop(&self) -> bool {
        self.overlay.is_noop() && self.lb.is_noop()
    }
}

/// Validate `state` and apply it to the node whose pins are `pins`.
pub fn apply(pins: &PinPaths, state: &DesiredState) -> Result<ApplyReport, ApplyError> {
    state.validate()?;
    let view = state.overlay_view();
    let mut overlay = overlay::apply(pins, &view)?;
    // Services after endpoints: a backend is reachable before it gets flows.
    let mut lb_tables = LbTables::open(pins).map_err(LbApplyError::from)?;
    let lb = lb::apply_to(&mut lb_tables, &state.lb_view())?;
    overlay.veths_removed = overlay::remove_stale_task_ifaces(pins, &view)?;
    Ok(ApplyReport { overlay, lb })
}

/// Validate `state` and apply only its services to the node whose pins are
/// `pins` (the overlay's maps and links untouched).
pub fn apply_services(pins: &PinPaths, state: &DesiredState) -> Result<LbReport, ApplyError> {
    state.validate()?;
    let mut tables = LbTables::open(pins).map_err(LbApplyError::from)?;
    Ok(lb::apply_to(&mut tables, &state.lb_view())?)
}
