//! `service create`, `update`, `rollback` and `rm`.

use super::{commit, load, resolve};
use crate::manager::allocate::release_removed_services;
use crate::manager::{ClusterTables, Leadership, ManagerError, driver, views};
use shoal_model::api::{ServiceCreateResponse, ServiceUpdateRequest, ServiceView};
use shoal_model::cluster::{INGRESS_NETWORK, now_secs};
use shoal_model::ids::new_id;
use shoal_model::spec::{PublishMode, Service, ServiceMode, ServiceSpec, TaskTemplate};

/// Creates a service from `spec`.
pub async fn create_service<L: Leadership>(
    leader: &L,
    mut spec: ServiceSpec,
) -> Result<ServiceCreateResponse, ManagerError> {
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    check_spec(&before, None, &mut spec)?;
    let mut service = Service::new(&new_id(), spec);
    service.created_at_secs = now_secs();
    service.updated_at_secs = service.created_at_secs;
    let mut after = before.clone();
    let id = service.id.clone();
    after.services.insert(id.clone(), service);
    commit(leader, &before, &after).await?;
    log::info!("created service {id}");
    Ok(ServiceCreateResponse {
        id,
        warnings: Vec::new(),
    })
}

/// Replaces the spec of the service `target` names; a changed task template
/// starts a rolling update.
pub async fn update_service<L: Leadership>(
    leader: &L,
    target: &str,
    request: ServiceUpdateRequest,
) -> Result<ServiceView, ManagerError> {
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    let mut service = resolve(&before.services, target, "service", |s| &s.spec.name)?.clone();
    let name = service.spec.name.clone();
    if let Some(given) = request.version
        && given != service.version
    {
        return Err(ManagerError::OutOfSequence {
            service: name,
            current: service.version,
            given,
        });
    }
    let mut spec = request.spec;
    if spec.name != name {
        return Err(ManagerError::Rename {
            from: name,
            to: spec.name,
        });
    }
    let global = |mode: ServiceMode| mode == ServiceMode::Global;
    if global(spec.mode) != global(service.spec.mode) {
        return Err(ManagerError::ModeChange { service: name });
    }
    check_spec(&before, Some(&service.id), &mut spec)?;
    keep_registry_auth(&service.spec.task, &mut spec.task);
    let forced = service.spec.task.force_update;
    spec.task.force_update = if request.force { forced + 1 } else { forced };
    service.begin_update(spec, driver::now());
    service.updated_at_secs = now_secs();
    store_service(leader, before, service).await
}

/// An update without `--with-registry-auth` keeps the login the service
/// has for the registry it still pulls from (the CLI read the spec through
/// a view, which never shows it), as Docker keeps the previous spec's.
fn keep_registry_auth(current: &TaskTemplate, new: &mut TaskTemplate) {
    if new.registry_auth.is_some() {
        return;
    }
    new.registry_auth = current
        .registry_auth
        .as_ref()
        .filter(|auth| new.image.starts_with(&format!("{}/", auth.registry)))
        .cloned();
}

/// Returns the service `target` names to its previous spec.
pub async fn rollback_service<L: Leadership>(
    leader: &L,
    target: &str,
) -> Result<ServiceView, ManagerError> {
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    let mut service = resolve(&before.services, target, "service", |s| &s.spec.name)?.clone();
    if !service.begin_rollback(driver::now(), "manually requested rollback") {
        return Err(ManagerError::NoPreviousSpec {
            service: service.spec.name,
        });
    }
    service.updated_at_secs = now_secs();
    store_service(leader, before, service).await
}

async fn store_service<L: Leadership>(
    leader: &L,
    before: ClusterTables,
    service: Service,
) -> Result<ServiceView, ManagerError> {
    let mut after = before.clone();
    after.services.insert(service.id.clone(), service.clone());
    commit(leader, &before, &after).await?;
    log::info!(
        "service {} is at version {}",
        service.spec.name,
        service.version
    );
    Ok(views::service_view(&after, service))
}

/// Removes the service `target` names with its endpoint; the manager loop
/// shuts its tasks down.
pub async fn remove_service<L: Leadership>(leader: &L, target: &str) -> Result<(), ManagerError> {
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    let service = resolve(&before.services, target, "service", |s| &s.spec.name)?.clone();
    let mut after = before.clone();
    after.services.remove(&service.id);
    // Free its VIPs and ports at once, so they can be reused right away.
    if let Some(mut allocator) = after.allocator.take() {
        release_removed_services(&mut after, &mut allocator);
        after.allocator = Some(allocator);
    }
    after.endpoints.remove(&service.id);
    commit(leader, &before, &after).await?;
    log::info!("removed service {} ({})", service.spec.name, service.id);
    Ok(())
}

/// Checks `spec` against the spec rules and the cluster: a unique name,
/// existing networks (named by name or ID; stored by name), secrets and configs,
/// and published ingress ports no other service holds. `own` is the ID of
/// the service being updated.
fn check_spec(
    tables: &ClusterTables,
    own: Option<&str>,
    spec: &mut ServiceSpec,
) -> Result<(), ManagerError> {
    spec.validate()
        .map_err(|source| ManagerError::InvalidSpec { source })?;
    if let Some(other) = tables.service_named(&spec.name)
        && Some(other.id.as_str()) != own
    {
        return Err(ManagerError::NameInUse {
            kind: "service",
            name: spec.name.clone(),
        });
    }
    for network in &mut spec.task.networks {
        let record = tables
            .network_named(network)
            .or_else(|| tables.networks.get(network.as_str()))
            .ok_or_else(|| ManagerError::UnknownNetwork {
                name: network.clone(),
            })?;
        if record.ingress || record.name == INGRESS_NETWORK {
            return Err(ManagerError::IngressAttachment {
                name: network.clone(),
            });
        }
        network.clone_from(&record.name);
    }
    if let Some(missing) = spec
        .task
        .secrets
        .iter()
        .find(|secret| tables.secret_named(&secret.source).is_none())
    {
        return Err(ManagerError::UnknownSecret {
            name: missing.source.clone(),
        });
    }
    if let Some(missing) = spec
        .task
        .configs
        .iter()
        .find(|config| tables.config_named(&config.source).is_none())
    {
        return Err(ManagerError::UnknownConfig {
            name: missing.source.clone(),
        });
    }
    check_ports(tables, own, spec)
}

/// No published port (ingress or host mode, either protocol) may be one the
/// swarm itself uses; published ingress ports are unique cluster-wide per
/// protocol.
fn check_ports(
    tables: &ClusterTables,
    own: Option<&str>,
    spec: &ServiceSpec,
) -> Result<(), ManagerError> {
    let swarm_ports = tables.swarm_ports();
    for port in spec.ports.iter().filter(|p| p.published != 0) {
        if let Some(user) = swarm_ports.get(&port.published) {
            return Err(ManagerError::SwarmPort {
                port: port.published,
                user: user.clone(),
            });
        }
    }
    let ingress = |mode: PublishMode| mode == PublishMode::Ingress;
    for port in spec
        .ports
        .iter()
        .filter(|p| ingress(p.mode) && p.published != 0)
    {
        for other in tables
            .services
            .values()
            .filter(|s| Some(s.id.as_str()) != own)
        {
            let allocated = tables.endpoints.get(&other.id).map(|e| e.ports.as_slice());
            let clash = other
                .spec
                .ports
                .iter()
                .chain(allocated.unwrap_or_default())
                .any(|p| {
                    ingress(p.mode) && p.published == port.published && p.protocol == port.protocol
                });
            if clash {
                return Err(ManagerError::PortInUse {
                    port: port.published,
                    protocol: port.protocol,
                    service: other.spec.name.clone(),
                });
            }
        }
    }
    Ok(())
}
