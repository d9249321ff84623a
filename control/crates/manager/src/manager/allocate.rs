//! The allocation part of a pass: the allocator row and the ingress
//! network, networks kept in step with the allocator, service endpoints
//! (VIPs and published ports), and task addresses.

use std::collections::{BTreeMap, BTreeSet};

use super::outcome::PassOutcome;
use super::{ClusterTables, ManagerError};
use crate::allocator::{Allocator, Ipv4Net, NetworkAllocation};
use shoal_model::cluster::{INGRESS_NETWORK, NetworkRecord, ServiceEndpoint, VirtualIp};
use shoal_model::spec::{
    EndpointMode, NetworkAttachment, PublishMode, Service, Task, TaskState, Timestamp,
};

/// Message of a task waiting for the scheduler.
const PENDING_SCHEDULING: &str = "pending task scheduling";
/// Message of a task whose addresses could not be allocated.
const PENDING_ALLOCATION: &str = "pending network allocation";

/// The allocator, created on first use together with the ingress network
/// (Docker creates `ingress` with the swarm; once the allocator exists a
/// removed ingress network is not brought back).
pub fn ensure_allocator<'a>(
    state: &'a mut ClusterTables,
    now: Timestamp,
    ids: &mut impl FnMut() -> String,
) -> Result<&'a mut Allocator, ManagerError> {
    if state.allocator_unreadable {
        return Err(ManagerError::AllocatorUnreadable);
    }
    if state.allocator.is_none() {
        let mut allocator = Allocator::default();
        if state.network_named(INGRESS_NETWORK).is_none() {
            let network = allocator.create_network(INGRESS_NETWORK, None)?;
            let mut record = network_record(network, ids(), now);
            record.ingress = true;
            state.networks.insert(record.id.clone(), record);
        }
        state.allocator = Some(allocator);
    }
    state
        .allocator
        .as_mut()
        .ok_or(ManagerError::AllocatorUnreadable)
}

/// A network row for an allocation (labels and options left default).
pub fn network_record(network: &NetworkAllocation, id: String, now: Timestamp) -> NetworkRecord {
    NetworkRecord {
        id,
        name: network.name.clone(),
        driver: "overlay".to_owned(),
        vni: network.vni,
        subnet: network.subnet.to_string(),
        gateway: network.gateway,
        encrypted: false,
        internal: false,
        ingress: false,
        labels: BTreeMap::new(),
        created_at: now.0 / 1000,
    }
}

/// Keeps the allocator's networks and the network rows in step: a row
/// without an allocation gets one with its VNI and subnet; an allocation
/// without a row goes once no task address is left in it.
pub fn sync_networks(state: &mut ClusterTables, allocator: &mut Allocator) {
    for record in state.networks.values() {
        if allocator.networks.contains_key(&record.name) {
            continue;
        }
        match record.subnet.parse::<Ipv4Net>() {
            Ok(subnet) => {
                let network = NetworkAllocation::new(&record.name, record.vni, subnet);
                allocator.networks.insert(record.name.clone(), network);
            }
            Err(err) => log::warn!("network {} has an invalid subnet: {err}", record.name),
        }
    }
    let named: BTreeSet<&str> = state.networks.values().map(|n| n.name.as_str()).collect();
    let orphans: Vec<String> = allocator
        .networks
        .keys()
        .filter(|name| !named.contains(name.as_str()))
        .cloned()
        .collect();
    for name in orphans {
        // Still in use: retried next pass, once its tasks are gone.
        let _ = allocator.remove_network(&name);
    }
}

/// Whether the service publishes ports on the routing mesh (its tasks
/// join the ingress network).
pub fn publishes_ingress(service: &Service) -> bool {
    service
        .spec
        .ports
        .iter()
        .any(|port| port.mode == PublishMode::Ingress)
}

/// Networks a service's tasks and VIPs are on: its own, plus ingress when
/// it publishes mesh ports.
pub fn service_networks(service: &Service) -> Vec<String> {
    let mut networks = service.spec.task.networks.clone();
    if publishes_ingress(service) && !networks.iter().any(|n| n == INGRESS_NETWORK) {
        networks.push(INGRESS_NETWORK.to_owned());
    }
    networks
}

/// Releases what removed services held, drops their endpoint rows, and
/// allocates an endpoint for every service whose spec changed since.
pub fn endpoints(state: &mut ClusterTables, allocator: &mut Allocator, outcome: &mut PassOutcome) {
    release_removed_services(state, allocator);
    for service in state.services.values() {
        let current = state
            .endpoints
            .get(&service.id)
            .is_some_and(|endpoint| endpoint.spec_version == service.version);
        if current {
            continue;
        }
        match allocate_endpoint(allocator, service) {
            Ok(endpoint) => {
                state.endpoints.insert(service.id.clone(), endpoint);
            }
            Err(source) => outcome.errors.push(ManagerError::Allocation {
                what: "service",
                id: service.id.clone(),
                source,
            }),
        }
    }
}

/// Releases VIPs and ports of services that are gone (the sweep also
/// catches anything a crashed writer left behind) and their endpoints.
pub fn release_removed_services(state: &mut ClusterTables, allocator: &mut Allocator) {
    let services = &state.services;
    for network in allocator.networks.values_mut() {
        let gone: Vec<String> = network
            .vips
            .keys()
            .filter(|id| !services.contains_key(*id))
            .cloned()
            .collect();
        for service_id in gone {
            if let Some(vip) = network.vips.remove(&service_id) {
                network.addresses.remove(&vip);
            }
        }
    }
    let holders: BTreeSet<String> = allocator
        .ports
        .tcp
        .values()
        .chain(allocator.ports.udp.values())
        .map(|holder| holder.service_id.clone())
        .filter(|id| !services.contains_key(id))
        .collect();
    for service_id in holders {
        allocator.release_ports(&service_id);
    }
    state.endpoints.retain(|id, _| services.contains_key(id));
}

/// Ports and VIPs for `service`, all or nothing.
fn allocate_endpoint(
    allocator: &mut Allocator,
    service: &Service,
) -> Result<ServiceEndpoint, crate::allocator::AllocatorError> {
    let mut trial = allocator.clone();
    let ports = trial.allocate_ports(&service.id, &service.spec.ports)?;
    let wanted = if service.spec.endpoint_mode == EndpointMode::Vip {
        service_networks(service)
    } else {
        Vec::new()
    };
    let mut vips = Vec::new();
    for network in &wanted {
        let ip = trial.allocate_vip(network, &service.id)?;
        vips.push(VirtualIp {
            network: network.clone(),
            ip,
        });
    }
    let stale: Vec<String> = trial
        .networks
        .values()
        .filter(|n| n.vips.contains_key(&service.id) && !wanted.contains(&n.name))
        .map(|n| n.name.clone())
        .collect();
    for network in stale {
        trial.release_vip(&network, &service.id)?;
    }
    *allocator = trial;
    Ok(ServiceEndpoint {
        service_id: service.id.clone(),
        vips,
        ports,
        spec_version: service.version,
    })
}

/// Task addresses: tasks waiting for the scheduler get theirs (state New
/// moves to Pending; a failure leaves the task Pending with the reason),
/// tasks that ended give theirs back, and tasks stopped before they
/// reached a node are marked shut down.
pub fn tasks(state: &mut ClusterTables, allocator: &mut Allocator, now: Timestamp) {
    for task in state.tasks.values_mut() {
        let state_now = task.status.state;
        if state_now.is_terminal() {
            allocator.release_task(task);
        } else if !task.is_wanted() && state_now <= TaskState::Pending {
            allocator.release_task(task);
            set_status(
                task,
                TaskState::Shutdown,
                "shut down before it was assigned",
                None,
                now,
            );
        } else if task.is_wanted() && state_now <= TaskState::Pending {
            if state_now == TaskState::New
                && let Some(service) = state.services.get(&task.service_id)
            {
                add_ingress(task, service);
            }
            allocate_task(allocator, task, now);
        }
    }
}

fn add_ingress(task: &mut Task, service: &Service) {
    let has = task.networks.iter().any(|a| a.network == INGRESS_NETWORK);
    if publishes_ingress(service) && !has {
        task.networks.push(NetworkAttachment {
            network: INGRESS_NETWORK.to_owned(),
            ip: None,
        });
    }
}

fn allocate_task(allocator: &mut Allocator, task: &mut Task, now: Timestamp) {
    if task.status.state != TaskState::New && is_allocated(task) {
        return;
    }
    match allocator.allocate_task(task) {
        Ok(()) => set_status(task, TaskState::Pending, PENDING_SCHEDULING, None, now),
        Err(err) => {
            let why = format!("cannot allocate network addresses: {err}");
            set_status(task, TaskState::Pending, PENDING_ALLOCATION, Some(why), now);
        }
    }
}

/// Sets the observed status, touching the timestamp only on a change (so
/// an unchanged task is not rewritten every pass).
fn set_status(
    task: &mut Task,
    state: TaskState,
    message: &str,
    err: Option<String>,
    now: Timestamp,
) {
    let status = &mut task.status;
    if status.state != state || status.message != message || status.err != err {
        status.state = state;
        status.message = message.to_owned();
        status.err = err;
        status.timestamp = now;
    }
}

/// Whether every attachment of the task has its address.
pub fn is_allocated(task: &Task) -> bool {
    task.networks
        .iter()
        .all(|attachment| attachment.ip.is_some())
}

/// Gives back the addresses of tasks that were deleted in this pass.
pub fn release_deleted(before: &ClusterTables, after: &ClusterTables, allocator: &mut Allocator) {
    for (id, task) in &before.tasks {
        if !after.tasks.contains_key(id) {
            allocator.release_task(task);
        }
    }
}
