//! Bringing a node up: from its state directory at start-up, after
//! `swarm unlock`, after init/join, and after a role change.

use std::sync::Arc;
use std::time::Duration;

use super::DaemonError;
use super::core::{Active, Daemon, Manager, Phase, lock};
use super::state::NodeState;
use super::{agent_link, heartbeat, keys, listener, renew};
use crate::ca::persist::{load_ca_cert, load_node_credentials};
use crate::ca::{CaCert, NodeCertificate, NodeKey};
use crate::cluster::NodeRole;
use crate::ctl::{ALPN_CTL, ALPN_RAFT, CtlPool};
use crate::raft::{NodeConfig, RaftNode, RaftTls};
use crate::seal::{DataKey, SealError, StoredDataKey, UnlockKey};
use crate::tls::{Authorizer, ClientAuth, LiveCert, live_client_config, live_server_config};

/// How long a raft write waits for a quorum before "no quorum".
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a membership change may take.
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(60);

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
        let monitor = tokio::spawn(heartbeat::monitor(manager.clone()));
        active.track(monitor.abort_handle());
        let services = tokio::spawn(crate::manager::run(manager.clone()));
        active.track(services.abort_handle());
        let keeper = tokio::spawn(keys::keeper(
            manager.clone(),
            daemon.paths.clone(),
            data_key,
        ));
        active.track(keeper.abort_handle());
    }
    let agent = tokio::spawn(heartbeat::agent(daemon.clone(), active.clone()));
    active.track(agent.abort_handle());
    let renewer = tokio::spawn(renew::renewer(active.clone()));
    active.track(renewer.abort_handle());
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

async fn start_from_disk(
    daemon: &Arc<Daemon>,
    state: NodeState,
    data_key: Option<DataKey>,
) -> Result<(), DaemonError> {
    let cert_dir = daemon.paths.cert_dir();
    let ca = load_ca_cert(&cert_dir)?;
    let (cert, key) = load_node_credentials(&cert_dir)?;
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
