//! `swarm init`, `swarm join`, `swarm leave` on this node.

use std::sync::Arc;
use std::time::Duration;

use super::DaemonError;
use super::addr::{advertise, only_ipv4, parse_listen};
use super::calls::put;
use super::core::{Active, Daemon, Phase};
use super::heartbeat::ENGINE_VERSION;
use super::renew::cert_from_pem;
use super::state::NodeState;
use super::{boot, keys, roles, wireguard};
use crate::api::{InitRequest, InitResponse, JoinRequest, JoinResponse};
use crate::ca::persist::{save_ca_cert, save_node_cert, save_node_key};
use crate::ca::{
    CaCert, CertValidity, DEFAULT_NODE_CERT_EXPIRY, DEFAULT_ROOT_EXPIRY, NodeKey, Role, RootCa,
};
use crate::cluster::{
    Availability, CLUSTER, CLUSTER_KEY, ClusterRecord, NODES, NodeRecord, NodeRole, NodeStatus,
    check_leave, now_secs,
};
use crate::ctl::{CtlError, CtlRequest, JoinGrant, JoinRpc, bootstrap_call};
use crate::ids::new_id;
use crate::node::NodeWireGuard;
use crate::raft::Command;
use crate::seal::{DataKey, UnlockKey};
use crate::token::{JoinSecrets, JoinToken};

/// Default UDP port of the overlay data path.
pub const DEFAULT_DATA_PATH_PORT: u16 = 4789;
/// How long a join may wait for the manager.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

fn ensure_inactive(daemon: &Daemon) -> Result<(), DaemonError> {
    daemon.with_phase(|phase| match phase {
        Phase::Inactive => Ok(()),
        _ => Err(DaemonError::AlreadyInSwarm),
    })
}

/// Creates the cert directory and writes the CA certificate and the
/// node's credentials, the key sealed under `seal` (an autolocked
/// manager's data key) when given.
fn save_credentials(
    daemon: &Daemon,
    ca: &CaCert,
    cert: &crate::ca::NodeCertificate,
    key: &NodeKey,
    seal: Option<&DataKey>,
) -> Result<(), DaemonError> {
    let dir = daemon.paths.cert_dir();
    std::fs::create_dir_all(&dir).map_err(DaemonError::io("create", &dir))?;
    save_ca_cert(ca, &dir)?;
    save_node_key(key, &dir, seal)?;
    save_node_cert(cert, &dir)?;
    Ok(())
}

/// `swarm init`: a new CA, this node's manager certificate, join secrets,
/// a one-manager raft cluster holding it all.
pub(crate) async fn init(
    daemon: &Arc<Daemon>,
    request: InitRequest,
) -> Result<InitResponse, DaemonError> {
    let _transition = daemon.transition.lock().await;
    ensure_inactive(daemon)?;
    let listen = parse_listen(&request.listen_addr)?;
    let advertised = advertise(request.advertise_addr.as_deref(), listen, only_ipv4)?;
    let result = create_swarm(daemon, &request, listen.to_string(), advertised.to_string()).await;
    if result.is_err() {
        let _ = daemon.paths.wipe();
    }
    result
}

async fn create_swarm(
    daemon: &Arc<Daemon>,
    request: &InitRequest,
    listen_addr: String,
    advertise_addr: String,
) -> Result<InitResponse, DaemonError> {
    let cluster_id = new_id();
    let ca = RootCa::create(&cluster_id, DEFAULT_ROOT_EXPIRY)?;
    let expiry = request
        .cert_expiry_secs
        .unwrap_or(DEFAULT_NODE_CERT_EXPIRY.as_secs());
    let node_id = new_id();
    let validity = CertValidity::from_now(Duration::from_secs(expiry))?;
    let (key, cert) = ca.issue_with_new_key(&node_id, Role::Manager, validity)?;
    let data_key = DataKey::generate();
    let seal = request.autolock.then_some(&data_key);
    save_credentials(daemon, ca.cert(), &cert, &key, seal)?;
    let secrets = JoinSecrets::generate();
    let unlock_key = request
        .autolock
        .then(|| UnlockKey::generate().expose().to_string());
    let cluster = ClusterRecord {
        id: cluster_id.clone(),
        ca_cert_pem: ca.cert().to_pem(),
        ca_key_pem: ca.key_pem().to_string(),
        worker_secret: secrets.secret(Role::Worker).expose().to_owned(),
        manager_secret: secrets.secret(Role::Manager).expose().to_owned(),
        autolock: request.autolock,
        unlock_key: unlock_key.clone(),
        cert_expiry_secs: expiry,
        data_path_port: request.data_path_port.unwrap_or(DEFAULT_DATA_PATH_PORT),
        key_rotation_secs: crate::cluster::DEFAULT_KEY_ROTATION_SECS,
        heartbeat_period_ms: crate::cluster::DEFAULT_HEARTBEAT_PERIOD_MS,
        created_at: now_secs(),
    };
    keys::store_data_key(&daemon.paths, &data_key, &cluster)?;
    let state = NodeState {
        node_id: node_id.clone(),
        raft_id: rand::random_range(1..u64::MAX),
        hostname: daemon.opts.node_name.clone(),
        cluster_id,
        role: NodeRole::Manager,
        listen_addr,
        advertise_addr: advertise_addr.clone(),
        managers: vec![advertise_addr.clone()],
        cert_expiry_secs: expiry,
    };
    let wg_key = wireguard::node_key(&daemon.paths, None)?;
    let record = first_node_record(
        &state,
        cert.identity()?.not_after.unix_timestamp(),
        wireguard::identity(&wg_key),
    );
    let active = boot::activate(
        daemon,
        state.clone(),
        ca.cert().clone(),
        cert,
        key,
        Some(data_key),
    )
    .await?;
    if let Err(err) = bootstrap_store(&active, &cluster, &record).await {
        active.stop().await;
        return Err(err);
    }
    state.save(&daemon.paths)?;
    daemon.set_phase(Phase::Active(active));
    log::info!("swarm initialised: node {node_id} is its first manager");
    Ok(InitResponse {
        node_id,
        worker_token: secrets.token(Role::Worker, ca.cert().digest()).to_string(),
        manager_addr: advertise_addr,
        unlock_key,
    })
}

fn first_node_record(
    state: &NodeState,
    cert_not_after: i64,
    wireguard: NodeWireGuard,
) -> NodeRecord {
    NodeRecord {
        id: state.node_id.clone(),
        raft_id: state.raft_id,
        hostname: state.hostname.clone(),
        role: NodeRole::Manager,
        desired_role: NodeRole::Manager,
        availability: Availability::Active,
        labels: Default::default(),
        addr: state.advertise_addr.clone(),
        status: NodeStatus::Ready,
        engine_version: ENGINE_VERSION.to_owned(),
        cert_not_after,
        created_at: now_secs(),
        wireguard: Some(wireguard),
        resources: Some(super::heartbeat::capacity()),
    }
}

/// Initialises raft with this node alone and writes the first rows.
async fn bootstrap_store(
    active: &Active,
    cluster: &ClusterRecord,
    record: &NodeRecord,
) -> Result<(), DaemonError> {
    let manager = active.manager.as_ref().ok_or(DaemonError::NotManager)?;
    manager.raft.initialize().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !manager.is_leader() {
        if tokio::time::Instant::now() > deadline {
            return Err(DaemonError::NoLeader {
                reachable: 1,
                total: 1,
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    manager
        .store()
        .propose(Command::Batch(vec![
            put(CLUSTER, CLUSTER_KEY, cluster)?,
            put(NODES, &record.id, record)?,
        ]))
        .await?;
    Ok(())
}

/// `swarm join`: checks the manager against the token's CA digest before
/// sending the secret, gets a certificate, then runs as a worker or joins
/// raft as a manager. Nothing is kept if any step fails.
pub(crate) async fn join(
    daemon: &Arc<Daemon>,
    request: JoinRequest,
) -> Result<JoinResponse, DaemonError> {
    let _transition = daemon.transition.lock().await;
    ensure_inactive(daemon)?;
    let token: JoinToken = request
        .token
        .parse()
        .map_err(|source| DaemonError::BadToken { source })?;
    let listen = parse_listen(&request.listen_addr)?;
    if let Some(given) = &request.advertise_addr {
        advertise(Some(given), listen, only_ipv4)?;
    }
    let key = NodeKey::generate()?;
    let (wg_key, _) = wireguard::stored_or_new(&daemon.paths)?;
    let rpc = JoinRpc {
        wireguard: Some(wireguard::identity(&wg_key)),
        token: request.token.trim().to_owned(),
        csr_der: key.csr_der("joining-node")?,
        hostname: daemon.opts.node_name.clone(),
        advertise_addr: request.advertise_addr.clone(),
        listen_port: listen.port(),
        engine_version: ENGINE_VERSION.to_owned(),
    };
    let pinned = *token.ca_digest();
    let value = bootstrap_call(
        &request.remote_addr,
        pinned,
        &CtlRequest::Join(rpc),
        JOIN_TIMEOUT,
    )
    .await?;
    let grant: JoinGrant =
        serde_json::from_value(value).map_err(DaemonError::codec("join grant"))?;
    let ca = CaCert::from_pem(&grant.ca_pem)?;
    if ca.digest() != pinned {
        return Err(CtlError::CaMismatch {
            addr: request.remote_addr,
            pinned,
        }
        .into());
    }
    let result = match wireguard::store(&daemon.paths, &wg_key, None) {
        Ok(()) => start_joined(daemon, &request, listen.to_string(), grant, ca, key).await,
        Err(err) => Err(err),
    };
    if result.is_err() {
        let _ = daemon.paths.wipe();
    }
    result
}

async fn start_joined(
    daemon: &Arc<Daemon>,
    request: &JoinRequest,
    listen_addr: String,
    grant: JoinGrant,
    ca: CaCert,
    key: NodeKey,
) -> Result<JoinResponse, DaemonError> {
    let cert = cert_from_pem(&grant.cert_pem)?;
    let data_key = (grant.role == NodeRole::Manager).then(DataKey::generate);
    // Only a manager of an autolocked swarm is given the unlock key.
    let unlock = keys::parse_unlock_key(grant.unlock_key.as_deref())?;
    let seal = data_key.as_ref().filter(|_| unlock.is_some());
    save_credentials(daemon, &ca, &cert, &key, seal)?;
    if let Some(data_key) = &data_key {
        daemon
            .paths
            .save_dek(&crate::seal::StoredDataKey::new(data_key, unlock.as_ref())?)?;
    }
    let mut managers = vec![request.remote_addr.clone()];
    managers.extend(
        grant
            .managers
            .iter()
            .filter(|m| **m != request.remote_addr)
            .cloned(),
    );
    let state = NodeState {
        node_id: grant.node_id.clone(),
        raft_id: grant.raft_id,
        hostname: daemon.opts.node_name.clone(),
        cluster_id: ca.cluster_id().to_owned(),
        role: grant.role,
        listen_addr,
        advertise_addr: grant.addr.clone(),
        managers,
        cert_expiry_secs: grant.cert_expiry_secs,
    };
    let active = boot::activate(daemon, state.clone(), ca, cert, key, data_key).await?;
    if grant.role == NodeRole::Manager
        && let Err(err) = roles::join_raft(&active).await
    {
        active.stop().await;
        return Err(err);
    }
    state.save(&daemon.paths)?;
    daemon.set_phase(Phase::Active(active));
    log::info!(
        "joined the swarm as node {} ({:?})",
        grant.node_id,
        grant.role
    );
    Ok(JoinResponse {
        node_id: grant.node_id,
        role: format!("{:?}", grant.role).to_lowercase(),
    })
}

/// `swarm leave`: a manager whose leaving would break quorum needs
/// `force`. The node stays in the swarm's node list (down) until
/// `node rm`, as in Docker.
pub(crate) async fn leave(daemon: &Arc<Daemon>, force: bool) -> Result<(), DaemonError> {
    let _transition = daemon.transition.lock().await;
    let active = daemon.with_phase(|phase| match phase {
        Phase::Inactive => Err(DaemonError::NotInSwarm),
        Phase::Locked(_) if !force => Err(DaemonError::Locked),
        Phase::Locked(_) => Ok(None),
        Phase::Active(active) => Ok(Some(active.clone())),
    })?;
    if let Some(active) = active {
        if let (Some(manager), false) = (&active.manager, force) {
            let nodes = manager.nodes();
            if let Some(me) = nodes.get(&active.node_state().node_id) {
                check_leave(&nodes, me)?;
            }
        }
        active.stop().await;
    }
    daemon.set_phase(Phase::Inactive);
    daemon.paths.wipe()?;
    super::agent_link::clean_up_after_leave(daemon).await;
    log::info!("left the swarm");
    Ok(())
}
