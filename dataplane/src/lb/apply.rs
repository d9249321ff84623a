//! Reconcile the load balancer's maps with its part of a desired state. Ordered so a
//! packet never meets a half-made change: backends exist before a table
//! names them, a table is complete before a service points at it, and
//! nothing is removed until nothing points at it any more.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use shoal_common::{lb::ServiceKey, maps};

use super::{
    ids::{IdError, assign},
    plan::{BackendAddr, Plan, plan},
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
}

impl LbReport {
    /// Whether nothing changed.
    pub fn is_noop(&self) -> bool {
        self.services.is_empty()
            && self.backends.is_empty()
            && self.maglev_tables.is_empty()
            && !self.conntrack_config_changed
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
    let wanted_tables: BTreeMap<u32, Vec<u32>> = plan
        .tables(&service_ids, &backend_ids)
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .collect();
    for (id, table) in &wanted_tables {
        match tables.table(*id)? {
            Some(Some(current)) if current == *table => continue,
            Some(_) => report.maglev_tables.updated += 1,
            None => report.maglev_tables.added += 1,
        }
        tables.set_table(*id, table)?;
    }
    let services = plan.service_values(&service_ids);
    report.services = upsert(&mut tables.services, maps::SERVICES, &services)?;
    report.services.removed = remove_stale(&mut tables.services, maps::SERVICES, &services)?;
    // Only read on a packet's way to a drop (to name its reason): no
    // ordering with the service entries matters.
    let vips = plan.vip_values();
    upsert(&mut tables.vips, maps::VIPS, &vips)?;
    remove_stale(&mut tables.vips, maps::VIPS, &vips)?;
    for id in tables.table_ids()? {
        if !wanted_tables.contains_key(&id) {
            tables.remove_table(id)?;
            report.maglev_tables.removed += 1;
        }
    }
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
