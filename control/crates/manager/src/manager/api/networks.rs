//! `network create` and `network rm`.

use super::{check_object_name, commit, load, resolve};
use crate::allocator::{AllocatorError, Ipv4Net};
use crate::manager::{
    Leadership, ManagerError, driver, ensure_allocator, network_record, publishes_ingress,
    rotate_if_due, rotate_now,
};
use shoal_model::api::{KeyRotation, NetworkCreateRequest};
use shoal_model::cluster::NetworkRecord;
use shoal_model::ids::new_id;

/// Creates an overlay network: its row and its allocation in one batch.
pub async fn create_network<L: Leadership>(
    leader: &L,
    request: NetworkCreateRequest,
) -> Result<NetworkRecord, ManagerError> {
    check_object_name("network", &request.name)?;
    match request.driver.as_deref() {
        None | Some("overlay") => {}
        Some(other) => {
            return Err(ManagerError::UnsupportedDriver {
                driver: other.to_owned(),
            });
        }
    }
    let subnet = request
        .subnet
        .as_deref()
        .map(str::parse::<Ipv4Net>)
        .transpose()?;
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    if before.network_named(&request.name).is_some() {
        return Err(ManagerError::NameInUse {
            kind: "network",
            name: request.name,
        });
    }
    let mut after = before.clone();
    let now = driver::now();
    let allocator = ensure_allocator(&mut after, now, &mut new_id)?;
    let network = allocator.create_network(&request.name, subnet)?;
    let mut record = network_record(network, new_id(), now);
    record.labels = request.labels;
    record.internal = request.internal;
    record.encrypted = request.encrypted;
    after.networks.insert(record.id.clone(), record.clone());
    // The first encrypted network brings the swarm's key in the same write:
    // its tasks never start without one.
    rotate_if_due(&mut after, now);
    commit(leader, &before, &after).await?;
    log::info!("created network {} ({})", record.name, record.subnet);
    Ok(record)
}

/// `network update --rotate-keys`: a new key for the encrypted networks,
/// now (nodes switch to it within seconds, without losing a packet).
pub async fn rotate_network_keys<L: Leadership>(
    leader: &L,
    target: &str,
) -> Result<KeyRotation, ManagerError> {
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    let record = resolve(&before.networks, target, "network", |n| &n.name)?;
    if !record.encrypted {
        return Err(ManagerError::NotEncrypted {
            name: record.name.clone(),
        });
    }
    let mut after = before.clone();
    let generation = rotate_now(&mut after, driver::now());
    commit(leader, &before, &after).await?;
    log::info!("rotated the encrypted networks' key to generation {generation} on request");
    Ok(KeyRotation {
        network: record.name.clone(),
        generation,
    })
}

/// Removes the network `target` names, unless a service uses it (for the
/// ingress network: publishes mesh ports). Tasks of removed or changed
/// services still stopping may hold addresses in it: they lose it now
/// (what `docker stack rm` needs: it removes the stack's networks right
/// after its services).
pub async fn remove_network<L: Leadership>(leader: &L, target: &str) -> Result<(), ManagerError> {
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    let record = resolve(&before.networks, target, "network", |n| &n.name)?.clone();
    let users: Vec<String> = before
        .services
        .values()
        .filter(|s| {
            s.spec.task.networks.contains(&record.name) || (record.ingress && publishes_ingress(s))
        })
        .map(|s| s.spec.name.clone())
        .collect();
    if !users.is_empty() {
        return Err(ManagerError::NetworkInUse {
            name: record.name,
            services: users,
        });
    }
    let mut after = before.clone();
    after.networks.remove(&record.id);
    if let Some(allocator) = after.allocator.as_mut() {
        match allocator.drop_network(&record.name) {
            Ok(()) | Err(AllocatorError::UnknownNetwork { .. }) => {}
            Err(err) => return Err(err.into()),
        }
    }
    commit(leader, &before, &after).await?;
    log::info!("removed network {} ({})", record.name, record.id);
    Ok(())
}
