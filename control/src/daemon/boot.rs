//! Bringing a node up: from its state directory at start-up, after
//! `swarm unlock`, after init/join, and after a role change; the heartbeat
//! loop that notices a wanted role change, and the change itself.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::DaemonError;
use super::calls::{call_managers, unique};
use super::core::{Active, Daemon, Manager, Phase, lock};
use super::heartbeat::{ENGINE_VERSION, HEARTBEAT_INTERVAL};
use super::state::NodeState;
use super::supervise::supervise;
use super::{agent_link, heartbeat, keys, listener, renew, roles};
use crate::ca::persist::{load_ca_cert, load_node_credentials_sealed, save_node_key};
use crate::ca::{CaCert, NodeCertificate, NodeKey};
use crate::cluster::NodeRole;
use crate::ctl::{ALPN_CTL, ALPN_RAFT, CtlPool, CtlRequest, HeartbeatAck, HeartbeatReport};
use crate::raft::{NodeConfig, RaftNode, RaftTls};
use crate::seal::{DataKey, SealError, StoredDataKey, UnlockKey};
use crate::tls::{Authorizer, ClientAuth, LiveCert, live_client_config, live_server_config};

/// How long a raft write waits for a quorum before "no quorum".
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a membership change may take.
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one heartbeat call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts raft for a manager. Its own RPC port is on loopback and unused:
/// peers reach raft through the control listener (ALPN), at the
/// advertised address.
async fn start_raft(
    state: &NodeState,
    ca: &CaCert,
    live: &Arc<LiveCert>,
    active_paths: &super::state::StatePaths,
    key: DataKey,
) -> Result<Arc<Manager>, DaemonError> {
    let server = live_server_config(ca, live.clone(), ClientAuth::Required, &[ALPN_RAFT])?;
    let client = live_client_config(ca, live.clone(), ALPN_RAFT)?;
    let tls = RaftTls::from_configs(server, client, Authorizer::new(ca.cluster_id()));
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let mut config = NodeConfig::new(state.raft_id, loopback, active_paths.raft_dir());
    config.advertise = Some(state.advertise_addr.clone());
    config.write_timeout = WRITE_TIMEOUT;
    config.membership_timeout = MEMBERSHIP_TIMEOUT;
    let raft = RaftNode::start(config, key, &tls).await?;
    Ok(Manager::new(raft))
}

/// Builds an active node and starts its tasks: every node runs the control
/// listener, heartbeats, renews its certificate and runs its agent; a
/// manager (given its data key) also runs raft, the heartbeat monitor, the
/// manager loop (services → tasks) and the data key keeper.
pub(crate) async fn activate(
    daemon: &Arc<Daemon>,
    state: NodeState,
    ca: CaCert,
    cert: NodeCertificate,
    key: NodeKey,
    data_key: Option<DataKey>,
) -> Result<Arc<Active>, DaemonError> {
    let live = LiveCert::new(&ca, &cert, &key)?;
    let ctl = CtlPool::new(live_client_config(&ca, live.clone(), ALPN_CTL)?);
    let manager = match &data_key {
        Some(data_key) => {
            Some(start_raft(&state, &ca, &live, &daemon.paths, data_key.clone()).await?)
        }
        None => None,
    };
    let active = Arc::new(Active {
        state: std::sync::Mutex::new(state),
        ca,
        key,
        cert: std::sync::Mutex::new(cert),
        live,
        ctl,
        manager,
        tasks: std::sync::Mutex::new(Vec::new()),
        paths: daemon.paths.clone(),
        changing_role: std::sync::atomic::AtomicBool::new(false),
        runtime: daemon.runtime.clone(),
        wg_key: wg_key(daemon, data_key.as_ref()),
    });
    if let Err(err) = listener::spawn(&active).await {
        if active.manager.is_some() {
            active.stop().await;
            return Err(err);
        }
        // A worker's listener only serves task logs: run without it.
        log::warn!("task logs unavailable: {}", err.full_message());
    }
    if let (Some(manager), Some(data_key)) = (&active.manager, data_key) {
        let m = manager.clone();
        supervise(&active, "liveness monitor", move || {
            heartbeat::monitor(m.clone())
        });
        let m = manager.clone();
        supervise(&active, "manager loop", move || {
            crate::manager::run(m.clone())
        });
        let (m, paths) = (manager.clone(), daemon.paths.clone());
        let node_key = Arc::new(NodeKey::from_pem(&active.key.to_pem())?);
        let wg_key = active.wg_key.clone();
        supervise(&active, "key keeper", move || {
            let keys = keys::NodeKeys {
                tls: node_key.clone(),
                wireguard: wg_key.clone(),
            };
            keys::keeper(m.clone(), paths.clone(), data_key.clone(), keys)
        });
    }
    let (d, a) = (daemon.clone(), active.clone());
    supervise(&active, "heartbeat loop", move || {
        heartbeat_loop(d.clone(), a.clone())
    });
    let a = active.clone();
    supervise(&active, "certificate renewer", move || {
        renew::renewer(a.clone())
    });
    agent_link::spawn(daemon, &active);
    Ok(active)
}

/// Start-up: in no swarm, locked (an autolocked manager), or active.
pub(crate) async fn boot(daemon: &Arc<Daemon>) -> Result<(), DaemonError> {
    let Some(state) = NodeState::load(&daemon.paths)? else {
        return Ok(());
    };
    let data_key = match state.role {
        NodeRole::Worker => None,
        NodeRole::Manager => match daemon.paths.load_dek()? {
            StoredDataKey::Plain(key) => Some(key),
            StoredDataKey::Wrapped(_) => {
                log::warn!("swarm is autolocked: run \"shoal swarm unlock\"");
                daemon.set_phase(Phase::Locked(state));
                return Ok(());
            }
        },
    };
    start_from_disk(daemon, state, data_key).await
}

/// The node's WireGuard key (opened with the data key if autolock sealed
/// it; made on first use); said so when it cannot be had.
fn wg_key(daemon: &Daemon, data_key: Option<&DataKey>) -> Option<shoal_dataplane::wg::PrivateKey> {
    match super::wireguard::node_key(&daemon.paths, data_key) {
        Ok(key) => Some(key),
        Err(err) => {
            log::warn!(
                "no WireGuard key (encrypted networks' traffic to other nodes is dropped): {}",
                err.full_message()
            );
            None
        }
    }
}

async fn start_from_disk(
    daemon: &Arc<Daemon>,
    state: NodeState,
    data_key: Option<DataKey>,
) -> Result<(), DaemonError> {
    let cert_dir = daemon.paths.cert_dir();
    let ca = load_ca_cert(&cert_dir)?;
    // An autolocked manager's key is sealed under its data key.
    let (cert, key) = load_node_credentials_sealed(&cert_dir, data_key.as_ref())?;
    let active = activate(daemon, state, ca, cert, key, data_key).await?;
    log::info!(
        "node {} is active as a {:?}",
        active.node_state().node_id,
        lock(&active.state).role
    );
    daemon.set_phase(Phase::Active(active));
    Ok(())
}

/// `swarm unlock`: opens the data key with the operator's unlock key and
/// starts the manager.
pub(crate) async fn unlock(daemon: &Arc<Daemon>, key_text: &str) -> Result<(), DaemonError> {
    let _transition = daemon.transition.lock().await;
    let state = daemon.with_phase(|phase| match phase {
        Phase::Locked(state) => Ok(state.clone()),
        Phase::Active(_) => Err(DaemonError::NotLocked),
        Phase::Inactive => Err(DaemonError::NotInSwarm),
    })?;
    let unlock: UnlockKey = key_text
        .parse()
        .map_err(|source| DaemonError::BadUnlockKey { source })?;
    let data_key = daemon
        .paths
        .load_dek()?
        .unlock(Some(&unlock))
        .map_err(|err| match err {
            SealError::WrongUnlockKey => DaemonError::WrongUnlockKey,
            other => other.into(),
        })?;
    start_from_disk(daemon, state, Some(data_key)).await
}

/// Every node's heartbeat loop; also notices a wanted role change.
async fn heartbeat_loop(daemon: Arc<Daemon>, active: Arc<Active>) {
    let mut period = HEARTBEAT_INTERVAL;
    loop {
        match beat(&active).await {
            Ok(ack) => {
                period = ack
                    .heartbeat_period_ms
                    .map_or(HEARTBEAT_INTERVAL, Duration::from_millis);
                remember_managers(&active, &ack);
                if ack.desired_role != active.node_state().role {
                    spawn_transition(daemon.clone(), active.clone(), ack.desired_role);
                }
            }
            Err(err) => log::debug!("heartbeat: {}", err.full_message()),
        }
        tokio::time::sleep(period).await;
    }
}

async fn beat(active: &Active) -> Result<HeartbeatAck, DaemonError> {
    let cert_not_after = lock(&active.cert).identity()?.not_after.unix_timestamp();
    let request = CtlRequest::Heartbeat(HeartbeatReport {
        engine_version: ENGINE_VERSION.to_owned(),
        cert_not_after,
        resources: Some(super::heartbeat::capacity()),
    });
    let value = call_managers(active, &request, CALL_TIMEOUT).await?;
    serde_json::from_value(value).map_err(DaemonError::codec("heartbeat ack"))
}

/// Keeps the manager list (leader first) and the certificate lifetime.
fn remember_managers(active: &Active, ack: &HeartbeatAck) {
    let mut managers: Vec<String> = ack.leader_addr.iter().cloned().collect();
    managers.extend(ack.managers.iter().cloned());
    let managers = unique(managers);
    let mut state = lock(&active.state);
    if state.managers != managers || state.cert_expiry_secs != ack.cert_expiry_secs {
        state.managers = managers;
        state.cert_expiry_secs = ack.cert_expiry_secs;
        if let Err(err) = state.save(&active.paths) {
            log::warn!("cannot save node state: {}", err.full_message());
        }
    }
}

/// Starts a role change in the background, once.
fn spawn_transition(daemon: Arc<Daemon>, active: Arc<Active>, role: NodeRole) {
    if active.changing_role.swap(true, Ordering::SeqCst) {
        return;
    }
    tokio::spawn(async move {
        if let Err(err) = transition(&daemon, &active, role).await {
            log::warn!("becoming a {role:?}: {}", err.full_message());
        }
        active.changing_role.store(false, Ordering::SeqCst);
    });
}

/// Becomes a `role`: gets a certificate for it, stops, and starts again
/// with (manager) or without (worker) raft.
async fn transition(
    daemon: &Arc<Daemon>,
    active: &Arc<Active>,
    role: NodeRole,
) -> Result<(), DaemonError> {
    let _transition = daemon.transition.lock().await;
    let current =
        daemon.with_phase(|phase| matches!(phase, Phase::Active(a) if Arc::ptr_eq(a, active)));
    if !current {
        return Ok(());
    }
    let grant = renew::renew_now(active, true).await?;
    if grant.role != role {
        return Ok(());
    }
    active.stop().await;
    let mut state = active.node_state();
    state.role = role;
    let raft_dir = active.paths.raft_dir();
    if raft_dir.exists() {
        std::fs::remove_dir_all(&raft_dir).map_err(DaemonError::io("remove", raft_dir))?;
    }
    let data_key = match role {
        NodeRole::Manager => {
            let key = DataKey::generate();
            let unlock = keys::parse_unlock_key(grant.unlock_key.as_deref())?;
            active
                .paths
                .save_dek(&StoredDataKey::new(&key, unlock.as_ref())?)?;
            Some(key)
        }
        NodeRole::Worker => {
            // No data key any more: the node key goes back to PEM first.
            save_node_key(&active.key, &active.paths.cert_dir(), None)?;
            let _ = std::fs::remove_file(active.paths.dek_file());
            None
        }
    };
    state.save(&active.paths)?;
    let cert = lock(&active.cert).clone();
    let key = NodeKey::from_pem(&active.key.to_pem())?;
    let next = activate(daemon, state, active.ca.clone(), cert, key, data_key).await?;
    daemon.set_phase(Phase::Active(next.clone()));
    if role == NodeRole::Manager {
        roles::join_raft(&next).await?;
    }
    log::info!("this node is now a {role:?}");
    Ok(())
}
