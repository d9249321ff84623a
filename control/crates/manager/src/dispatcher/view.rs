//! The store as the dispatcher reads it: decoded once per applied index
//! and shared by every node's long poll ([`ViewCache`]), with the indexes
//! that let one node's assignment be built from what concerns it — its own
//! tasks, the backends and live addresses of the networks it reaches —
//! instead of a walk over every task of the cluster per node.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde::Deserialize as _;
use serde::de::DeserializeOwned;

use super::{LbBackend, RemoteTask};
use shoal_model::cluster::{
    CLUSTER, CLUSTER_KEY, CONFIGS, ClusterRecord, ConfigRecord, ENDPOINTS, NETWORKS, NODES,
    NetworkRecord, NodeRecord, OVERLAY_KEYS, OVERLAY_KEYS_KEY, OverlayKey, OverlayKeyRing, SECRETS,
    SERVICES, SecretRecord, ServiceEndpoint, TASKS,
};
use shoal_model::spec::{PublishMode, Service, Task, TaskState};
use shoal_raft::Tables;

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

/// The decoded tables and their indexes.
pub struct View {
    /// The applied index it was decoded at.
    pub(super) index: Option<u64>,
    pub(super) data_path_port: u16,
    /// The encrypted networks' current key.
    pub(super) overlay_key: Option<OverlayKey>,
    pub(super) nodes: BTreeMap<String, NodeRecord>,
    pub(super) tasks: BTreeMap<String, Task>,
    pub(super) services: BTreeMap<String, Service>,
    pub(super) endpoints: BTreeMap<String, ServiceEndpoint>,
    pub(super) networks: BTreeMap<String, NetworkRecord>,
    /// By name.
    pub(super) secrets: BTreeMap<String, SecretRecord>,
    /// By name.
    pub(super) configs: BTreeMap<String, ConfigRecord>,
    /// Task IDs per node they are placed on.
    pub(super) by_node: BTreeMap<String, Vec<String>>,
    /// Every service's backends, on all its networks.
    pub(super) backends: BTreeMap<String, Vec<LbBackend>>,
    /// Live task addresses per network (sorted by address), with the node
    /// each is on.
    pub(super) live: BTreeMap<String, Vec<(String, RemoteTask)>>,
    /// Services with a VIP or a backend on each network.
    pub(super) by_network: BTreeMap<String, BTreeSet<String>>,
    /// Services publishing a port through the mesh.
    pub(super) meshed: BTreeSet<String>,
    /// Ingress network names.
    pub(super) ingress: Vec<String>,
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

impl View {
    /// Decodes `tables` (applied at `index`) and indexes them.
    pub fn decode(index: Option<u64>, tables: &Tables) -> Result<View, DispatchError> {
        let cluster_row = tables
            .get(CLUSTER)
            .and_then(|table| table.get(CLUSTER_KEY))
            .ok_or(DispatchError::NoClusterRecord)?;
        let cluster = ClusterRecord::deserialize(cluster_row)
            .map_err(|source| DispatchError::ClusterRecord { source })?;
        let mut view = View {
            index,
            data_path_port: cluster.data_path_port,
            overlay_key: rows::<OverlayKeyRing>(tables, OVERLAY_KEYS)
                .remove(OVERLAY_KEYS_KEY)
                .and_then(|ring| ring.current().cloned()),
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
            by_node: BTreeMap::new(),
            backends: BTreeMap::new(),
            live: BTreeMap::new(),
            by_network: BTreeMap::new(),
            meshed: BTreeSet::new(),
            ingress: Vec::new(),
        };
        view.index_tasks();
        view.index_services();
        Ok(view)
    }

    /// The name a task is shown (and its container's hostname) by:
    /// `web.1` for a replica, `web.<node id>` for a global task.
    pub(super) fn task_name(&self, task: &Task) -> String {
        let service = self
            .services
            .get(&task.service_id)
            .map_or(task.service_id.as_str(), |s| s.spec.name.as_str());
        match (task.slot, &task.node_id) {
            (0, Some(node)) => format!("{service}.{node}"),
            (slot, _) => format!("{service}.{slot}"),
        }
    }

    /// `by_node`, `backends` and `live`.
    fn index_tasks(&mut self) {
        for task in self.tasks.values() {
            let Some(node) = task.node_id.as_deref() else {
                continue;
            };
            self.by_node
                .entry(node.to_owned())
                .or_default()
                .push(task.id.clone());
            if let Some(backends) = self.backends_of(task) {
                self.backends
                    .entry(task.service_id.clone())
                    .or_default()
                    .extend(backends);
            }
            if task.status.state.is_terminal() {
                continue;
            }
            let Some(node_addr) = self.nodes.get(node).and_then(|n| underlay_ip(&n.addr)) else {
                continue;
            };
            for attachment in &task.networks {
                if let Some(ip) = attachment.ip {
                    let remote = RemoteTask {
                        network: attachment.network.clone(),
                        ip,
                        node_addr,
                    };
                    let live = self.live.entry(attachment.network.clone()).or_default();
                    live.push((node.to_owned(), remote));
                }
            }
        }
        for live in self.live.values_mut() {
            live.sort_by_key(|(_, remote)| remote.ip);
        }
    }

    /// A task's backends, one per attachment: observed running, still
    /// wanted (takes new connections) or being stopped (drains).
    fn backends_of(&self, task: &Task) -> Option<Vec<LbBackend>> {
        if task.status.state != TaskState::Running {
            return None;
        }
        let draining = match task.desired_state {
            TaskState::Running => false,
            desired if desired > TaskState::Running => true,
            _ => return None,
        };
        let name = self.task_name(task);
        let hostname = task.hostname();
        let backends = task.networks.iter().filter_map(|attachment| {
            Some(LbBackend {
                task_id: task.id.clone(),
                network: attachment.network.clone(),
                ip: attachment.ip?,
                draining,
                task_name: format!("{name}.{}", task.id),
                hostname: hostname.clone(),
            })
        });
        Some(backends.collect())
    }

    /// `by_network`, `meshed` and `ingress`.
    fn index_services(&mut self) {
        for (service_id, endpoint) in &self.endpoints {
            let vip_nets = endpoint.vips.iter().map(|v| v.network.clone());
            let backend_nets = self
                .backends
                .get(service_id)
                .into_iter()
                .flatten()
                .map(|b| b.network.clone());
            for network in vip_nets.chain(backend_nets) {
                self.by_network
                    .entry(network)
                    .or_default()
                    .insert(service_id.clone());
            }
            let published = |p: &shoal_model::spec::PortConfig| {
                p.mode == PublishMode::Ingress && p.published != 0
            };
            if endpoint.ports.iter().any(published) {
                self.meshed.insert(service_id.clone());
            }
        }
        self.ingress = self
            .networks
            .values()
            .filter(|n| n.ingress)
            .map(|n| n.name.clone())
            .collect();
    }
}

/// The latest [`View`], shared by every long poll of one manager: a store
/// change is decoded once, however many nodes wait.
///
/// The polls waiting for a decode wait on an async lock, and the decode
/// itself tells a multi-threaded runtime it blocks: with a large store it
/// takes a while, and the runtime's other tasks (raft's heartbeats among
/// them) must not stall behind it.
#[derive(Default)]
pub struct ViewCache {
    latest: tokio::sync::Mutex<Option<Arc<View>>>,
}

impl ViewCache {
    /// The view at applied index `index`: the cached one if it is that
    /// recent, else one decoded from `snapshot()` (which may be newer).
    pub async fn get(
        &self,
        index: Option<u64>,
        snapshot: impl FnOnce() -> (Option<u64>, Tables),
    ) -> Result<Arc<View>, DispatchError> {
        let mut latest = self.latest.lock().await;
        if let Some(view) = latest
            .as_ref()
            .filter(|v| v.index >= index && index.is_some())
        {
            return Ok(view.clone());
        }
        let view = Arc::new(blocking(|| {
            let (index, tables) = snapshot();
            View::decode(index, &tables)
        })?);
        *latest = Some(view.clone());
        Ok(view)
    }
}

/// Runs `work` (CPU-bound) letting a multi-threaded runtime move its other
/// tasks to other threads meanwhile; plainly on any other runtime.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
