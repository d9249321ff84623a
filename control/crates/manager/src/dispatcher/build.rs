//! Building one node's [`Assignment`] from the store's tables: a pure
//! function of the tables, so every manager builds the same assignment
//! (with the same version) from the same applied state.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::Deserialize as _;
use serde::de::DeserializeOwned;

use super::{
    AssignedConfig, AssignedSecret, AssignedTask, Assignment, LbBackend, LbService, RemoteTask,
};
use shoal_model::assignment::WgPeer;
use shoal_model::cluster::{
    CLUSTER, CLUSTER_KEY, CONFIGS, ClusterRecord, ConfigRecord, ENDPOINTS, NETWORKS, NODES,
    NetworkRecord, NodeRecord, SECRETS, SERVICES, SecretRecord, ServiceEndpoint, TASKS,
};
use shoal_model::spec::{Service, Task, TaskState};
use shoal_raft::Tables;

/// The tables an assignment is built from: a change to any other table
/// cannot change an assignment, so a waiting request need not look.
pub const ASSIGNMENT_TABLES: [&str; 8] = [
    NODES, CLUSTER, TASKS, SERVICES, ENDPOINTS, NETWORKS, SECRETS, CONFIGS,
];

/// Why no assignment could be built.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The cluster record (with the data-path port) is missing.
    #[error("the swarm's cluster record is missing from the store")]
    NoClusterRecord,
    /// The cluster record does not decode.
    #[error("cannot decode the swarm's cluster record")]
    ClusterRecord {
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}

/// The rows an assignment is made of, decoded.
struct Rows {
    nodes: BTreeMap<String, NodeRecord>,
    tasks: BTreeMap<String, Task>,
    services: BTreeMap<String, Service>,
    endpoints: BTreeMap<String, ServiceEndpoint>,
    networks: BTreeMap<String, NetworkRecord>,
    secrets: BTreeMap<String, SecretRecord>,
    /// Configs by name.
    configs: BTreeMap<String, ConfigRecord>,
}

impl Rows {
    fn decode(tables: &Tables) -> Rows {
        Rows {
            nodes: rows(tables, NODES),
            tasks: rows(tables, TASKS),
            services: rows(tables, SERVICES),
            endpoints: rows(tables, ENDPOINTS),
            networks: rows(tables, NETWORKS),
            secrets: rows::<SecretRecord>(tables, SECRETS)
                .into_values()
                .map(|secret| (secret.name.clone(), secret))
                .collect(),
            configs: rows::<ConfigRecord>(tables, CONFIGS)
                .into_values()
                .map(|config| (config.name.clone(), config))
                .collect(),
        }
    }

    /// The name a task is shown (and its container's hostname) by:
    /// `web.1` for a replica, `web.<node id>` for a global task.
    fn task_name(&self, task: &Task) -> String {
        let service = self
            .services
            .get(&task.service_id)
            .map_or(task.service_id.as_str(), |s| s.spec.name.as_str());
        match (task.slot, &task.node_id) {
            (0, Some(node)) => format!("{service}.{node}"),
            (slot, _) => format!("{service}.{slot}"),
        }
    }
}

/// The rows of `table` that decode as `T`; others are skipped and logged
/// (one bad row must not stop every node's work).
fn rows<T: DeserializeOwned>(tables: &Tables, table: &str) -> BTreeMap<String, T> {
    tables
        .get(table)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| match T::deserialize(value) {
            Ok(row) => Some((key.clone(), row)),
            Err(err) => {
                log::warn!("dispatcher: skipping undecodable {table} row {key}: {err}");
                None
            }
        })
        .collect()
}

/// The assignment of node `node_id` as of `tables`.
pub fn build(node_id: &str, tables: &Tables) -> Result<Assignment, DispatchError> {
    let cluster_row = tables
        .get(CLUSTER)
        .and_then(|table| table.get(CLUSTER_KEY))
        .ok_or(DispatchError::NoClusterRecord)?;
    let cluster = ClusterRecord::deserialize(cluster_row)
        .map_err(|source| DispatchError::ClusterRecord { source })?;
    let rows = Rows::decode(tables);
    let tasks: Vec<AssignedTask> = rows
        .tasks
        .values()
        .filter(|task| is_assigned_here(task, node_id))
        .map(|task| assigned_task(&rows, task))
        .collect();
    let mut assignment = Assignment {
        version: 0,
        node_id: node_id.to_owned(),
        data_path_port: cluster.data_path_port,
        tasks,
        networks: rows.networks.values().cloned().collect(),
        remote_tasks: remote_tasks(&rows, node_id),
        peers: peers(&rows, node_id),
        wg_peers: wg_peers(&rows, node_id),
        services: lb_services(&rows),
    };
    assignment.version = version_of(&assignment);
    Ok(assignment)
}

/// A task the node must run or still stop: handed to it by the scheduler
/// (a global task names its node before it is allocated and scheduled),
/// and wanted (desired state at most running) or not yet ended.
fn is_assigned_here(task: &Task, node_id: &str) -> bool {
    task.node_id.as_deref() == Some(node_id)
        && task.status.state >= TaskState::Assigned
        && (task.desired_state <= TaskState::Running || !task.status.state.is_terminal())
}

fn assigned_task(rows: &Rows, task: &Task) -> AssignedTask {
    let secrets = task
        .spec
        .secrets
        .iter()
        .filter_map(|secret| rows.secrets.get(&secret.source))
        .map(|secret| AssignedSecret {
            name: secret.name.clone(),
            data_b64: secret.data_b64.clone(),
        })
        .collect();
    let configs = task
        .spec
        .configs
        .iter()
        .filter_map(|config| rows.configs.get(&config.source))
        .map(|config| AssignedConfig {
            name: config.name.clone(),
            data_b64: config.data_b64.clone(),
        })
        .collect();
    AssignedTask {
        task: task.clone(),
        name: rows.task_name(task),
        secrets,
        configs,
    }
}

/// The underlay IP of a node: the host part of its `ip:port` address.
pub fn underlay_ip(addr: &str) -> Option<Ipv4Addr> {
    let ip = match addr.parse::<SocketAddr>() {
        Ok(socket) => socket.ip(),
        Err(_) => addr.parse::<IpAddr>().ok()?,
    };
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }
}

/// Underlay addresses of every other node (sorted, distinct): the nodes
/// this one accepts VXLAN from.
fn peers(rows: &Rows, node_id: &str) -> Vec<Ipv4Addr> {
    let own = rows.nodes.get(node_id).and_then(|n| underlay_ip(&n.addr));
    let peers: BTreeSet<Ipv4Addr> = rows
        .nodes
        .iter()
        .filter(|(id, _)| id.as_str() != node_id)
        .filter_map(|(_, node)| underlay_ip(&node.addr))
        .filter(|ip| Some(*ip) != own)
        .collect();
    peers.into_iter().collect()
}

/// The WireGuard identities of every other node that has one (sorted by
/// address): a node's key goes from every assignment the moment its record
/// is removed.
fn wg_peers(rows: &Rows, node_id: &str) -> Vec<WgPeer> {
    let own = rows.nodes.get(node_id).and_then(|n| underlay_ip(&n.addr));
    let peers: BTreeMap<Ipv4Addr, WgPeer> = rows
        .nodes
        .iter()
        .filter(|(id, _)| id.as_str() != node_id)
        .filter_map(|(_, node)| {
            let addr = underlay_ip(&node.addr).filter(|ip| Some(*ip) != own)?;
            let wg = node.wireguard.as_ref()?;
            Some((
                addr,
                WgPeer {
                    addr,
                    public_key: wg.public_key.clone(),
                    port: wg.port,
                },
            ))
        })
        .collect();
    peers.into_values().collect()
}

/// Addresses of live tasks on other nodes (sorted, one per attachment).
fn remote_tasks(rows: &Rows, node_id: &str) -> Vec<RemoteTask> {
    let mut remote = Vec::new();
    for task in rows.tasks.values() {
        let Some(node) = task.node_id.as_deref().filter(|node| *node != node_id) else {
            continue;
        };
        if task.status.state.is_terminal() {
            continue;
        }
        let Some(node_addr) = rows.nodes.get(node).and_then(|n| underlay_ip(&n.addr)) else {
            continue;
        };
        for attachment in &task.networks {
            if let Some(ip) = attachment.ip {
                remote.push(RemoteTask {
                    network: attachment.network.clone(),
                    ip,
                    node_addr,
                });
            }
        }
    }
    remote.sort_by(|a, b| (&a.network, a.ip).cmp(&(&b.network, b.ip)));
    remote
}

/// Every allocated service with the tasks that may take its connections.
fn lb_services(rows: &Rows) -> Vec<LbService> {
    rows.endpoints
        .iter()
        .filter_map(|(service_id, endpoint)| {
            let service = rows.services.get(service_id)?;
            Some(LbService {
                id: service_id.clone(),
                name: service.spec.name.clone(),
                vips: endpoint.vips.clone(),
                ports: endpoint.ports.clone(),
                backends: backends(rows, service_id),
                endpoint_mode: service.spec.endpoint_mode,
                aliases: service.spec.task.network_aliases.clone(),
            })
        })
        .collect()
}

/// Tasks of the service observed running: those still wanted take new
/// connections, those being stopped drain.
fn backends(rows: &Rows, service_id: &str) -> Vec<LbBackend> {
    let mut backends = Vec::new();
    for task in rows.tasks.values() {
        if task.service_id != service_id || task.status.state != TaskState::Running {
            continue;
        }
        let draining = match task.desired_state {
            TaskState::Running => false,
            desired if desired > TaskState::Running => true,
            _ => continue,
        };
        let name = rows.task_name(task);
        let hostname = task.hostname();
        for attachment in &task.networks {
            if let Some(ip) = attachment.ip {
                backends.push(LbBackend {
                    task_id: task.id.clone(),
                    network: attachment.network.clone(),
                    ip,
                    draining,
                    task_name: format!("{name}.{}", task.id),
                    hostname: hostname.clone(),
                });
            }
        }
    }
    backends
}

/// A digest of the assignment's contents (its `version` field aside):
/// FNV-1a over its JSON, stable across processes and builds.
fn version_of(assignment: &Assignment) -> u64 {
    let mut hasher = Fnv64::default();
    let unversioned = Assignment {
        version: 0,
        ..assignment.clone()
    };
    // Writing into the hasher cannot fail, and these types always
    // serialise (no maps with non-string keys).
    let _ = serde_json::to_writer(&mut hasher, &unversioned);
    hasher.0
}

/// 64-bit FNV-1a as an `io::Write` sink.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl std::io::Write for Fnv64 {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
