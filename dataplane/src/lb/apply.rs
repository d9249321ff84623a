//! Reconcile the load balancer's maps with its part of a desired state. Ordered so a
//! packet never meets a half-made change: backends exist before a table
//! names them, a table is complete before a service points at it, and
//! nothing is removed until nothing points at it any more.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use serde::Serialize;
use shoal_common::{lb::ServiceKey, maps};

use super::{
    ids::{IdError, assign},
    plan::{BackendAddr, Plan, plan},
    table_sync::{self, OuterState, TableSyncError},
    tables::{LbTables, LbTablesError},
    view::LbView,
};
use crate::overlay::tables::{Changes, TablesError, remove_stale, upsert};

/// Errors applying the load-balancing part of a desired state.
#[derive(Debug, thiserror::Error)]
pub enum LbApplyError {
    /// A map could not be read or written.
    #[error(transparent)]
    Tables(#[from] LbTablesError),
    /// The Maglev tables could not be read or written.
    #[error(transparent)]
    Maglev(#[from] TableSyncError),
    /// More services or backends than the maps hold.
    #[error(transparent)]
    Ids(#[from] IdError),
}

impl From<TablesError> for LbApplyError {
    fn from(e: TablesError) -> Self {
        LbApplyError::Tables(e.into())
    }
}

/// What a load-balancing apply changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LbReport {
    /// Service entries (VIP ports and published ports).
    pub services: Changes,
    /// Backends.
    pub backends: Changes,
    /// Maglev tables: new, rebuilt and swapped, removed.
    pub maglev_tables: Changes,
    /// Conntrack timeouts rewritten.
    pub conntrack_config_changed: bool,
    /// Maglev inner maps created by this apply (services with equal tables
    /// share one).
    pub maglev_maps_created: usize,
    /// Distinct Maglev inner maps the node holds afterwards.
    pub maglev_maps: usize,
    /// Kernel memory of those inner maps, bytes (the kernel's `memlock`
    /// accounting of one table times their number).
    pub maglev_bytes: u64,
}

impl LbReport {
    /// Whether nothing changed.
    pub fn is_noop(&self) -> bool {
        self.map_writes() == 0
    }

    /// Map entries this apply wrote or deleted (an unchanged apply: 0).
    pub fn map_writes(&self) -> usize {
        let writes = |c: &Changes| c.added + c.updated + c.removed;
        writes(&self.services)
            + writes(&self.backends)
            + writes(&self.maglev_tables)
            + self.maglev_maps_created
            + usize::from(self.conntrack_config_changed)
    }
}

/// Apply an already validated `state` (the whole node's, checked by its
/// owner) to open `tables`.
pub fn apply_to(tables: &mut LbTables, state: &LbView) -> Result<LbReport, LbApplyError> {
    let plan = plan(state);
    let (service_ids, backend_ids) = assign_ids(tables, &plan)?;
    let mut report = LbReport::default();

    let backends = plan.backend_values(&backend_ids);
    report.backends = upsert(&mut tables.backends, maps::BACKENDS, &backends)?;
    let wanted_tables: BTreeMap<u32, Arc<[u32]>> = plan
        .tables(&service_ids, &backend_ids)
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .collect();
    let mut outer = OuterState::read(&tables.maglev_outer)?;
    let installed = table_sync::install(&tables.maglev_outer, &mut outer, &wanted_tables)?;
    report.maglev_tables = installed.changes;
    report.maglev_maps_created = installed.maps_created;
    let services = plan.service_values(&service_ids);
    report.services = upsert(&mut tables.services, maps::SERVICES, &services)?;
    report.services.removed = remove_stale(&mut tables.services, maps::SERVICES, &services)?;
    // Only read on a packet's way to a drop (to name its reason): no
    // ordering with the service entries matters.
    let vips = plan.vip_values();
    upsert(&mut tables.vips, maps::VIPS, &vips)?;
    remove_stale(&mut tables.vips, maps::VIPS, &vips)?;
    report.maglev_tables.removed =
        table_sync::remove_unwanted(&tables.maglev_outer, &mut outer, &wanted_tables)?;
    report.maglev_maps = outer.maps_held();
    report.maglev_bytes = outer.kernel_bytes()?;
    report.backends.removed = remove_stale(&mut tables.backends, maps::BACKENDS, &backends)?;
    report.conntrack_config_changed = tables.set_config(state.conntrack.config())?;
    Ok(report)
}

/// Service entry → service id.
type ServiceIds = BTreeMap<ServiceKey, u32>;
/// Backend address → backend id.
type BackendIds = BTreeMap<BackendAddr, u32>;

/// Service and backend ids: kept from the maps, new ones allocated.
fn assign_ids(tables: &LbTables, plan: &Plan) -> Result<(ServiceIds, BackendIds), LbApplyError> {
    let current_services = tables
        .service_entries()?
        .into_iter()
        .map(|(key, svc)| (svc.id, key))
        .collect();
    let wanted_services = plan.services.keys().copied().collect();
    let service_ids = assign(
        &current_services,
        &wanted_services,
        "service entries",
        maps::SERVICES_CAPACITY,
    )?;
    let current_backends = tables
        .backend_entries()?
        .into_iter()
        .map(|(id, b)| (id, BackendAddr::from_value(&b)))
        .collect();
    let wanted_backends: BTreeSet<BackendAddr> = plan.backend_addrs();
    let backend_ids = assign(
        &current_backends,
        &wanted_backends,
        "backends",
        maps::BACKENDS_CAPACITY,
    )?;
    Ok((service_ids, backend_ids))
}
