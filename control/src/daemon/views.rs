//! What the API shows: swarm info, nodes, join tokens.

use crate::api::{JoinTokenResponse, NodeView, SwarmInfo, SwarmState};
use crate::cluster::{ClusterRecord, NodeRecord, NodeRole, manager_status};
use crate::token::JoinToken;

use super::DaemonError;
use super::core::{Active, Daemon, Manager, Phase};

/// A node as the API shows it.
pub(crate) fn node_view(active: &Active, manager: &Manager, record: NodeRecord) -> NodeView {
    NodeView {
        manager_status: manager_status(&record, manager.leader_id()).map(str::to_owned),
        is_self: record.id == active.node_state().node_id,
        record,
    }
}

/// The join token of `role` and the address to join at.
pub(crate) fn join_token(
    active: &Active,
    cluster: &ClusterRecord,
    role: NodeRole,
) -> Result<JoinTokenResponse, DaemonError> {
    let secrets = super::grant::secrets_of(cluster)?;
    let token = JoinToken::new(active.ca.digest(), secrets.secret(role).clone());
    Ok(JoinTokenResponse {
        role: role.as_str().to_owned(),
        token: token.to_string(),
        manager_addr: active.node_state().advertise_addr,
    })
}

/// `GET /swarm`.
pub(crate) fn swarm_info(daemon: &Daemon) -> SwarmInfo {
    let mut info = SwarmInfo {
        state: SwarmState::Inactive,
        node_id: None,
        node_name: daemon.opts.node_name.clone(),
        role: None,
        cluster_id: None,
        node_addr: None,
        managers: None,
        nodes: None,
        autolock: None,
        heartbeat_period_ms: None,
    };
    daemon.with_phase(|phase| match phase {
        Phase::Inactive => {}
        Phase::Locked(state) => {
            info.state = SwarmState::Locked;
            info.node_id = Some(state.node_id.clone());
            info.role = Some("manager".to_owned());
            info.cluster_id = Some(state.cluster_id.clone());
            info.node_addr = Some(state.advertise_addr.clone());
        }
        Phase::Active(active) => {
            let state = active.node_state();
            info.state = SwarmState::Active;
            info.node_id = Some(state.node_id);
            info.role = Some(format!("{:?}", state.role).to_lowercase());
            info.cluster_id = Some(state.cluster_id);
            info.node_addr = Some(state.advertise_addr);
            if let Some(manager) = &active.manager {
                let nodes = manager.nodes();
                info.nodes = Some(nodes.len());
                info.managers = Some(
                    nodes
                        .values()
                        .filter(|n| n.role == NodeRole::Manager)
                        .count(),
                );
                let cluster = manager.cluster().ok();
                info.autolock = cluster.as_ref().map(|c| c.autolock);
                info.heartbeat_period_ms = cluster.map(|c| c.heartbeat_period_ms);
            }
        }
    });
    info
}
