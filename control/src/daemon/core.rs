//! The daemon's state: not in a swarm, locked, or active (as a worker or a
//! manager), and the handles an active node holds.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use tokio::task::AbortHandle;

use super::DaemonError;
use super::state::{NodeState, StatePaths};
use crate::ca::{CaCert, NodeCertificate, NodeKey};
use crate::cluster::{CLUSTER, CLUSTER_KEY, ClusterRecord, NODES, NodeRecord, REMOVED};
use crate::ctl::CtlPool;
use crate::raft::{RaftNode, Store};
use crate::runtime::Runtime;
use crate::runtime::image::InsecureRegistries;
use crate::tls::LiveCert;

/// How to run a daemon.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// State directory.
    pub state_dir: PathBuf,
    /// API socket path.
    pub socket: PathBuf,
    /// The node's name (hostname in `node ls`).
    pub node_name: String,
    /// Whose data-plane pins the agent programs (`/sys/fs/bpf/shoal/<dp_node>`):
    /// the name `shoal dp --node` uses.
    pub dp_node: String,
    /// Where bpffs is (or gets) mounted (`SHOAL_BPFFS`).
    pub bpffs: PathBuf,
    /// Where Prometheus metrics are served (`GET /metrics`); none: off.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Registries pulled from over plain http (`--insecure-registry`;
    /// loopback always).
    pub insecure_registries: InsecureRegistries,
    /// Where the embedded DNS forwards names that are not the cluster's.
    pub dns_upstreams: Vec<std::net::SocketAddr>,
    /// Images unused for this long are removed (`--image-gc-grace`);
    /// `None`: never.
    pub image_gc_grace: Option<std::time::Duration>,
    /// Unwrap VXLAN for local tasks at XDP (`--xdp-fast-path`).
    pub xdp_fast_path: bool,
}

/// Locks a std mutex, taking over a poisoned one (all guarded state is
/// replaced whole).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where the node stands.
pub(crate) enum Phase {
    /// In no swarm.
    Inactive,
    /// An autolocked manager waiting for its unlock key.
    Locked(NodeState),
    /// In a swarm and serving.
    Active(Arc<Active>),
}

/// The daemon: its options and its phase.
pub struct Daemon {
    pub(crate) opts: DaemonOptions,
    pub(crate) paths: StatePaths,
    /// The node's containers and images (in or out of a swarm).
    pub(crate) runtime: Arc<Runtime>,
    phase: RwLock<Phase>,
    /// Serialises init, join, leave, unlock and role changes.
    pub(crate) transition: tokio::sync::Mutex<()>,
}

impl Daemon {
    /// A daemon in no swarm yet (see [`super::boot`] for start-up).
    pub(crate) fn new(opts: DaemonOptions, runtime: Arc<Runtime>) -> Arc<Self> {
        Arc::new(Self {
            paths: StatePaths::new(&opts.state_dir),
            runtime,
            opts,
            phase: RwLock::new(Phase::Inactive),
            transition: tokio::sync::Mutex::new(()),
        })
    }

    /// Replaces the phase.
    pub(crate) fn set_phase(&self, phase: Phase) {
        *self.phase.write().unwrap_or_else(PoisonError::into_inner) = phase;
    }

    /// Runs `f` on the current phase.
    pub(crate) fn with_phase<T>(&self, f: impl FnOnce(&Phase) -> T) -> T {
        f(&self.phase.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The active node, or why there is none.
    pub(crate) fn active(&self) -> Result<Arc<Active>, DaemonError> {
        self.with_phase(|phase| match phase {
            Phase::Inactive => Err(DaemonError::NotInSwarm),
            Phase::Locked(_) => Err(DaemonError::Locked),
            Phase::Active(active) => Ok(active.clone()),
        })
    }

    /// The active manager, or why this node is none.
    pub(crate) fn manager(&self) -> Result<(Arc<Active>, Arc<Manager>), DaemonError> {
        let active = self.active()?;
        let manager = active.manager.clone().ok_or(DaemonError::NotManager)?;
        Ok((active, manager))
    }
}

/// A node in a swarm.
pub(crate) struct Active {
    /// Identity and addresses (saved in `node.json`).
    pub(crate) state: Mutex<NodeState>,
    /// The cluster CA certificate.
    pub(crate) ca: CaCert,
    /// The node's key (renewals reuse it).
    pub(crate) key: NodeKey,
    /// The node's current certificate.
    pub(crate) cert: Mutex<NodeCertificate>,
    /// What TLS presents (swapped on renewal).
    pub(crate) live: Arc<LiveCert>,
    /// mTLS connections to managers.
    pub(crate) ctl: CtlPool,
    /// Raft and the leader's bookkeeping, on managers.
    pub(crate) manager: Option<Arc<Manager>>,
    /// Background tasks, aborted when the node stops.
    pub(crate) tasks: Mutex<Vec<AbortHandle>>,
    /// The state directory.
    pub(crate) paths: StatePaths,
    /// Set while a role change runs.
    pub(crate) changing_role: std::sync::atomic::AtomicBool,
    /// The node's containers (shared with the daemon).
    pub(crate) runtime: Arc<Runtime>,
    /// The node's WireGuard private key (`None`: it could not be read, and
    /// encrypted networks' traffic to other nodes is dropped).
    pub(crate) wg_key: Option<shoal_dataplane::wg::PrivateKey>,
}

impl Active {
    /// A copy of the node's identity.
    pub(crate) fn node_state(&self) -> NodeState {
        lock(&self.state).clone()
    }

    /// Keeps `handle` to abort it when the node stops.
    pub(crate) fn track(&self, handle: AbortHandle) {
        lock(&self.tasks).push(handle);
    }

    /// Stops background tasks, the listener and raft.
    pub(crate) async fn stop(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        self.ctl.clear();
        if let Some(manager) = &self.manager {
            manager.raft.server().stop();
            if let Err(err) = manager.raft.raft().shutdown().await {
                log::warn!("raft shutdown: {err}");
            }
        }
    }
}

/// A manager's raft node and the leader's heartbeat bookkeeping.
pub(crate) struct Manager {
    /// The raft node.
    pub(crate) raft: RaftNode,
    /// Last heartbeat per node ID and the period its answer told the node
    /// (kept by the leader, in memory only).
    pub(crate) liveness: Mutex<HashMap<String, (Instant, std::time::Duration)>>,
    /// Heartbeats that change their node's record, waiting for the write
    /// lock: the next holder writes them all in one raft entry.
    pub(crate) beats: Mutex<Vec<(String, crate::ctl::HeartbeatReport)>>,
    /// Since when this manager leads (heartbeats are judged from then on).
    pub(crate) leader_since: Mutex<Option<Instant>>,
    /// Serialises read-modify-write changes of rows on the leader.
    pub(crate) writes: tokio::sync::Mutex<()>,
    /// The store as the dispatcher last decoded it, shared by every
    /// node's assignment poll.
    pub(crate) views: crate::dispatcher::ViewCache,
    /// Task reports waiting to be committed together.
    pub(crate) reports: crate::manager::ReportQueue,
    /// The managers' addresses as of an applied index: every heartbeat's
    /// answer carries them, and decoding every node record per beat made
    /// a thousand nodes' beats cost a million decodes a second.
    managers_seen: Mutex<Option<(Option<u64>, Vec<String>)>>,
}

impl Manager {
    /// Wraps a started raft node.
    pub(crate) fn new(raft: RaftNode) -> Arc<Self> {
        Arc::new(Self {
            raft,
            liveness: Mutex::new(HashMap::new()),
            beats: Mutex::new(Vec::new()),
            leader_since: Mutex::new(None),
            writes: tokio::sync::Mutex::new(()),
            views: crate::dispatcher::ViewCache::default(),
            reports: crate::manager::ReportQueue::default(),
            managers_seen: Mutex::new(None),
        })
    }

    /// The replicated store.
    pub(crate) fn store(&self) -> &Store {
        self.raft.store()
    }

    /// Whether this manager leads now.
    pub(crate) fn is_leader(&self) -> bool {
        self.raft.metrics().state == openraft::ServerState::Leader && self.is_member()
    }

    /// Whether this manager is in its own raft membership (a demoted or
    /// removed manager is not, and must not act on stale leadership).
    pub(crate) fn is_member(&self) -> bool {
        let view = self.raft.membership();
        let id = self.raft.id();
        view.voters.contains(&id) || view.learners.contains(&id)
    }

    /// The leader's raft ID, as this manager knows it.
    pub(crate) fn leader_id(&self) -> Option<u64> {
        self.raft.leader()
    }

    /// The leader's control address, from the raft membership.
    pub(crate) fn leader_addr(&self) -> Option<String> {
        if !self.is_member() {
            return None;
        }
        let metrics = self.raft.metrics();
        let leader = metrics.current_leader?;
        metrics
            .membership_config
            .membership()
            .get_node(&leader)
            .map(|node| node.addr.clone())
    }

    /// All node records (rows that fail to decode are skipped and logged).
    pub(crate) fn nodes(&self) -> BTreeMap<String, NodeRecord> {
        self.store()
            .table(NODES)
            .into_iter()
            .filter_map(|(id, value)| match serde_json::from_value(value) {
                Ok(record) => Some((id, record)),
                Err(err) => {
                    log::warn!("skipping undecodable node row {id}: {err}");
                    None
                }
            })
            .collect()
    }

    /// One node record.
    pub(crate) fn node(&self, id: &str) -> Option<NodeRecord> {
        self.store()
            .read(NODES, id)
            .and_then(|value| serde_json::from_value(value).ok())
    }

    /// The cluster record.
    pub(crate) fn cluster(&self) -> Result<ClusterRecord, DaemonError> {
        let value = self
            .store()
            .read(CLUSTER, CLUSTER_KEY)
            .ok_or(DaemonError::NoClusterRecord)?;
        serde_json::from_value(value).map_err(DaemonError::codec("cluster record"))
    }

    /// Control addresses of all managers (decoded once per applied index).
    pub(crate) fn manager_addrs(&self) -> Vec<String> {
        let index = self.store().applied_index();
        if let Some((seen, addrs)) = lock(&self.managers_seen).as_ref()
            && *seen == index
            && index.is_some()
        {
            return addrs.clone();
        }
        let addrs: Vec<String> = self
            .nodes()
            .into_values()
            .filter(|n| n.role == crate::cluster::NodeRole::Manager)
            .map(|n| n.addr)
            .collect();
        *lock(&self.managers_seen) = Some((index, addrs.clone()));
        addrs
    }

    /// Whether `node_id` has been removed from the swarm.
    pub(crate) fn is_removed(&self, node_id: &str) -> bool {
        self.store().read(REMOVED, node_id).is_some()
    }
}
