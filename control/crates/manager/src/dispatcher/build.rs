//! Building one node's [`Assignment`] from the store's tables: a pure
//! function of the tables, so every manager builds the same assignment
//! (with the same version) from the same applied state.
//!
//! A node gets only what its data plane needs, so its state (and the
//! dispatcher's work for it) grows with its own tasks' reach, not with the
//! cluster: the networks of its own tasks, plus the ingress network (every
//! node answers the mesh's published ports);
//! the services with a VIP or a task on those networks, and the mesh's
//! services; their VIPs and backends on those networks only; the remote
//! task addresses on those networks. A change elsewhere leaves its
//! assignment's version alone, so its long poll does not wake.

use std::collections::BTreeSet;

use super::partners;
use super::view::{DispatchError, View};
use super::{AssignedConfig, AssignedSecret, AssignedTask, Assignment, LbService, RemoteTask};
use shoal_model::assignment::AssignedOverlayKey;
use shoal_model::cluster::{
    CLUSTER, CONFIGS, ENDPOINTS, NETWORKS, NODES, OVERLAY_KEYS, SECRETS, SERVICES, TASKS,
};
use shoal_model::spec::{Task, TaskState};
use shoal_raft::Tables;

/// The tables an assignment is built from: a change to any other table
/// cannot change an assignment, so a waiting request need not look.
pub const ASSIGNMENT_TABLES: [&str; 9] = [
    NODES,
    CLUSTER,
    TASKS,
    SERVICES,
    ENDPOINTS,
    NETWORKS,
    SECRETS,
    CONFIGS,
    OVERLAY_KEYS,
];

/// The assignment of node `node_id` as of `tables`.
pub fn build(node_id: &str, tables: &Tables) -> Result<Assignment, DispatchError> {
    Ok(assemble(node_id, &View::decode(None, tables)?))
}

/// The assignment of node `node_id` from a decoded [`View`]: work in
/// proportion to what the node reaches, not to the cluster.
pub fn assemble(node_id: &str, view: &View) -> Assignment {
    let tasks: Vec<AssignedTask> = view
        .by_node
        .get(node_id)
        .into_iter()
        .flatten()
        .filter_map(|id| view.tasks.get(id))
        .filter(|task| is_assigned_here(task, node_id))
        .map(|task| assigned_task(view, task))
        .collect();
    let reach = reach(view, &tasks);
    let networks: Vec<_> = view
        .networks
        .values()
        .filter(|n| reach.contains(&n.name))
        .cloned()
        .collect();
    let overlay_key = view
        .overlay_key
        .as_ref()
        .filter(|_| networks.iter().any(|n| n.encrypted))
        .map(|key| AssignedOverlayKey {
            generation: key.generation,
            key: key.key.clone(),
        });
    let mut assignment = Assignment {
        version: 0,
        node_id: node_id.to_owned(),
        data_path_port: view.data_path_port,
        tasks,
        networks,
        remote_tasks: remote_tasks(view, node_id, &reach),
        peers: partners::peers(view, node_id, &reach),
        wg_peers: partners::wg_peers(view, node_id, &reach),
        overlay_key,
        services: lb_services(view, &reach),
    };
    assignment.version = assignment.digest();
    assignment
}

/// The networks a node's data plane needs (by name): its own tasks' (as
/// allocated, else as asked), and the ingress network.
fn reach(view: &View, tasks: &[AssignedTask]) -> BTreeSet<String> {
    let mut reach: BTreeSet<String> = tasks
        .iter()
        .flat_map(|t| {
            let attached = t.task.networks.iter().map(|a| a.network.clone());
            let asked = t.task.spec.networks.iter().cloned();
            attached.chain(asked)
        })
        .collect();
    // Every node is on the ingress network, as in Swarm: the data plane is
    // in place (and counting) on a node without tasks, ready for the mesh.
    reach.extend(view.ingress.iter().cloned());
    reach
}

/// A task the node must run or still stop: handed to it by the scheduler
/// (a global task names its node before it is allocated and scheduled),
/// and wanted (desired state at most running) or not yet ended.
fn is_assigned_here(task: &Task, node_id: &str) -> bool {
    task.node_id.as_deref() == Some(node_id)
        && task.status.state >= TaskState::Assigned
        && (task.desired_state <= TaskState::Running || !task.status.state.is_terminal())
}

fn assigned_task(view: &View, task: &Task) -> AssignedTask {
    let secrets = task
        .spec
        .secrets
        .iter()
        .filter_map(|secret| view.secrets.get(&secret.source))
        .map(|secret| AssignedSecret {
            name: secret.name.clone(),
            data_b64: secret.data_b64.clone(),
        })
        .collect();
    let configs = task
        .spec
        .configs
        .iter()
        .filter_map(|config| view.configs.get(&config.source))
        .map(|config| AssignedConfig {
            name: config.name.clone(),
            data_b64: config.data_b64.clone(),
        })
        .collect();
    AssignedTask {
        task: task.clone(),
        name: view.task_name(task),
        secrets,
        configs,
    }
}

/// Addresses of live tasks on other nodes on the `reach` networks (sorted
/// by network, then address; one per attachment).
fn remote_tasks(view: &View, node_id: &str, reach: &BTreeSet<String>) -> Vec<RemoteTask> {
    reach
        .iter()
        .filter_map(|network| view.live.get(network))
        .flatten()
        .filter(|(node, _)| node != node_id)
        .map(|(_, remote)| remote.clone())
        .collect()
}

/// Every allocated service reachable on the `reach` networks (a VIP or a
/// backend there, or a port published through the mesh), with its VIPs
/// and the tasks that may take its connections on those networks.
fn lb_services(view: &View, reach: &BTreeSet<String>) -> Vec<LbService> {
    let ids: BTreeSet<&String> = reach
        .iter()
        .filter_map(|network| view.by_network.get(network))
        .flatten()
        .chain(&view.meshed)
        .collect();
    ids.into_iter()
        .filter_map(|service_id| {
            let endpoint = view.endpoints.get(service_id)?;
            let service = view.services.get(service_id)?;
            let on_reach = |network: &String| reach.contains(network);
            Some(LbService {
                id: service_id.clone(),
                name: service.spec.name.clone(),
                vips: endpoint
                    .vips
                    .iter()
                    .filter(|v| on_reach(&v.network))
                    .cloned()
                    .collect(),
                ports: endpoint.ports.clone(),
                backends: view
                    .backends
                    .get(service_id)
                    .into_iter()
                    .flatten()
                    .filter(|b| on_reach(&b.network))
                    .cloned()
                    .collect(),
                endpoint_mode: service.spec.endpoint_mode,
                aliases: service.spec.task.network_aliases.clone(),
            })
        })
        .collect()
}
