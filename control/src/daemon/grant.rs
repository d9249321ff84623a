//! The manager side of joining and renewing: check the token, issue the
//! certificate, record the node.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::DaemonError;
use super::addr::joiner_addr;
use super::calls::put;
use super::core::{Active, Manager};
use crate::ca::{CertValidity, NodeCertificate, RootCa};
use crate::cluster::{
    Availability, ClusterRecord, NODES, NodeRecord, NodeRole, NodeStatus, now_secs,
};
use crate::ctl::{JoinGrant, JoinRpc, RenewGrant};
use crate::ids::new_id;
use crate::token::{JoinSecret, JoinSecrets, JoinToken};

/// The cluster's join secrets as stored.
pub(crate) fn secrets_of(cluster: &ClusterRecord) -> Result<JoinSecrets, DaemonError> {
    let parse =
        |text: &str| JoinSecret::parse(text).map_err(|source| DaemonError::BadToken { source });
    Ok(JoinSecrets::from_parts(
        parse(&cluster.worker_secret)?,
        parse(&cluster.manager_secret)?,
    ))
}

/// The root CA from the cluster record.
pub(crate) fn root_ca(cluster: &ClusterRecord) -> Result<RootCa, DaemonError> {
    Ok(RootCa::from_pem(&cluster.ca_cert_pem, &cluster.ca_key_pem)?)
}

/// Issues a certificate for the key in `csr_der`.
fn issue(
    cluster: &ClusterRecord,
    csr_der: &[u8],
    node_id: &str,
    role: NodeRole,
) -> Result<NodeCertificate, DaemonError> {
    let validity = CertValidity::from_now(Duration::from_secs(cluster.cert_expiry_secs))?;
    Ok(root_ca(cluster)?.issue_for_csr(csr_der, node_id, role, validity)?)
}

/// Checks a join on the manager that received it, before it goes to the
/// leader: the fields' bounds, the token's format, its CA digest and,
/// when this manager's replica has the cluster record (a manager that has
/// just joined may not have it yet), its secret. A token refused here
/// gets the leader's own message. (A secret rotated a moment ago may not
/// have reached this replica yet: the joiner tries again.)
pub(crate) fn precheck(
    active: &Active,
    manager: &Manager,
    rpc: &JoinRpc,
) -> Result<(), DaemonError> {
    super::heartbeat::check_join(rpc)?;
    let token =
        JoinToken::from_str(&rpc.token).map_err(|source| DaemonError::BadToken { source })?;
    let bad = |source| DaemonError::BadToken { source };
    token.check_ca(&active.ca.digest()).map_err(bad)?;
    if let Ok(cluster) = manager.cluster() {
        secrets_of(&cluster)?
            .verify(&token, &active.ca.digest())
            .map_err(bad)?;
    }
    Ok(())
}

/// Checks the join against the leader's cluster record: returns the role
/// the token's secret grants and the record.
fn check_token(
    active: &Active,
    manager: &Manager,
    rpc: &JoinRpc,
) -> Result<(NodeRole, ClusterRecord), DaemonError> {
    super::heartbeat::check_join(rpc)?;
    let token =
        JoinToken::from_str(&rpc.token).map_err(|source| DaemonError::BadToken { source })?;
    let cluster = manager.cluster()?;
    let role: NodeRole = secrets_of(&cluster)?
        .verify(&token, &active.ca.digest())
        .map_err(|source| DaemonError::BadToken { source })?;
    Ok((role, cluster))
}

/// Admits a joining node (on the leader): the token must pin this CA and
/// carry a current secret; nothing is written otherwise.
pub(crate) async fn admit(
    active: &Arc<Active>,
    manager: &Arc<Manager>,
    rpc: JoinRpc,
    observed_ip: &str,
) -> Result<JoinGrant, DaemonError> {
    let (role, cluster) = check_token(active, manager, &rpc)?;
    let node_id = new_id();
    let cert = issue(&cluster, &rpc.csr_der, &node_id, role)?;
    let addr = joiner_addr(rpc.advertise_addr.as_deref(), observed_ip, rpc.listen_port)?;
    check_port_not_published(manager, &addr)?;
    let raft_id = rand::random_range(1..u64::MAX);
    let record = NodeRecord {
        id: node_id.clone(),
        raft_id,
        hostname: rpc.hostname,
        role,
        desired_role: role,
        availability: Availability::Active,
        labels: Default::default(),
        addr: addr.clone(),
        status: NodeStatus::Unknown,
        engine_version: rpc.engine_version,
        cert_not_after: cert.identity()?.not_after.unix_timestamp(),
        created_at: now_secs(),
        wireguard: rpc.wireguard,
        // Reported by its first heartbeat.
        resources: None,
    };
    manager
        .store()
        .propose(put(NODES, &node_id, &record)?)
        .await?;
    log::info!("admitted node {node_id} ({}) as {role:?}", record.hostname);
    Ok(JoinGrant {
        node_id,
        role,
        raft_id,
        cert_pem: cert.to_pem(),
        ca_pem: active.ca.to_pem(),
        addr,
        managers: manager.manager_addrs(),
        unlock_key: (role == NodeRole::Manager)
            .then(|| cluster.unlock_key.clone())
            .flatten(),
        cert_expiry_secs: cluster.cert_expiry_secs,
    })
}

/// A joining node's control port must not be one a service publishes: the
/// routing mesh would capture the node's heartbeats and joins (and, on a
/// manager, raft). The same rule, seen from the other side, keeps services
/// from publishing the swarm's ports.
fn check_port_not_published(manager: &Manager, addr: &str) -> Result<(), DaemonError> {
    let Some(port) = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
    else {
        return Ok(());
    };
    let tables = crate::manager::api::load(manager);
    for service in tables.services.values() {
        let allocated = tables
            .endpoints
            .get(&service.id)
            .map(|e| e.ports.as_slice());
        let publishes = service
            .spec
            .ports
            .iter()
            .chain(allocated.unwrap_or_default())
            .any(|p| p.published == port);
        if publishes {
            return Err(DaemonError::ControlPortPublished {
                port,
                service: service.spec.name.clone(),
            });
        }
    }
    Ok(())
}

/// Issues a fresh certificate for `node_id` with the role the store wants
/// it to have (any manager can: the CA is in the replicated store).
pub(crate) fn renew(
    manager: &Manager,
    node_id: &str,
    csr_der: &[u8],
) -> Result<RenewGrant, DaemonError> {
    if manager.is_removed(node_id) {
        return Err(DaemonError::Removed {
            node_id: node_id.to_owned(),
        });
    }
    let node = manager.node(node_id).ok_or_else(|| DaemonError::Removed {
        node_id: node_id.to_owned(),
    })?;
    let cluster = manager.cluster()?;
    let cert = issue(&cluster, csr_der, node_id, node.desired_role)?;
    // The unlock key wraps a manager's data key. Only a node on its way to
    // becoming a manager (wanted as one, not yet in raft) writes a new
    // data key from a renewal: a running manager keeps its own in step
    // from the cluster record (`keys::keeper`), a worker has none.
    let promoting = node.desired_role == NodeRole::Manager && node.role != NodeRole::Manager;
    Ok(RenewGrant {
        cert_pem: cert.to_pem(),
        role: node.desired_role,
        unlock_key: promoting.then(|| cluster.unlock_key.clone()).flatten(),
    })
}
