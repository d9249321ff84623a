//! `/nodes` in Docker's shape (`docker node ls`, `docker node inspect`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use super::super::core::{Active, Daemon, Manager};
use super::super::heartbeat::ENGINE_VERSION;
use super::shapes::{ObjectVersion, rfc3339_secs};
use super::system::host_of;
use super::{super::DaemonError, EngineFailure};
use crate::cluster::{NodeRecord, manager_status, resolve_node};

/// A node as Docker's API shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerNode {
    #[serde(rename = "ID")]
    id: String,
    version: ObjectVersion,
    created_at: String,
    updated_at: String,
    spec: NodeSpec,
    description: Description,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    manager_status: Option<ManagerStatus>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NodeSpec {
    labels: BTreeMap<String, String>,
    role: &'static str,
    availability: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Description {
    hostname: String,
    platform: PlatformInfo,
    resources: NodeResources,
    engine: Engine,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NodeResources {
    #[serde(rename = "NanoCPUs")]
    nano_cpus: u64,
    memory_bytes: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PlatformInfo {
    architecture: &'static str,
    #[serde(rename = "OS")]
    os: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Engine {
    engine_version: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Status {
    state: &'static str,
    addr: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManagerStatus {
    leader: bool,
    reachability: &'static str,
    addr: String,
}

/// `record` in Docker's shape; `leader` is the raft leader's ID.
fn docker_node(record: NodeRecord, leader: Option<u64>) -> DockerNode {
    let manager_status = manager_status(&record, leader).map(|word| ManagerStatus {
        leader: word == "Leader",
        reachability: if word == "Unreachable" {
            "unreachable"
        } else {
            "reachable"
        },
        addr: record.addr.clone(),
    });
    let engine_version = if record.engine_version.is_empty() {
        ENGINE_VERSION.to_owned()
    } else {
        record.engine_version.clone()
    };
    DockerNode {
        id: record.id,
        version: ObjectVersion { index: 1 },
        created_at: rfc3339_secs(record.created_at),
        updated_at: rfc3339_secs(record.created_at),
        spec: NodeSpec {
            labels: record.labels,
            role: record.role.as_str(),
            availability: record.availability.as_str(),
        },
        description: Description {
            hostname: record.hostname,
            platform: PlatformInfo {
                architecture: std::env::consts::ARCH,
                os: "linux",
            },
            resources: NodeResources {
                nano_cpus: record.resources.map_or(0, |r| r.nano_cpus),
                memory_bytes: record.resources.map_or(0, |r| r.memory_bytes),
            },
            engine: Engine { engine_version },
        },
        status: Status {
            state: record.status.as_str(),
            addr: host_of(&record.addr),
        },
        manager_status,
    }
}

/// The manager to read from, or Docker's refusal for a node that is none.
pub(crate) fn manager(daemon: &Daemon) -> Result<(Arc<Active>, Arc<Manager>), EngineFailure> {
    daemon.manager().map_err(|err| {
        let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let message = match err {
            DaemonError::NotInSwarm => {
                "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.".to_owned()
            }
            DaemonError::NotManager => {
                "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.".to_owned()
            }
            other => other.full_message(),
        };
        EngineFailure { status, message }
    })
}

/// `GET /nodes`.
pub(crate) async fn list(
    State(daemon): State<Arc<Daemon>>,
) -> Result<Json<Vec<DockerNode>>, EngineFailure> {
    let (_, manager) = manager(&daemon)?;
    let leader = manager.leader_id();
    let nodes = manager
        .nodes()
        .into_values()
        .map(|record| docker_node(record, leader))
        .collect();
    Ok(Json(nodes))
}

/// `GET /nodes/{id}`: by ID, hostname or unique ID prefix.
pub(crate) async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> Result<Json<DockerNode>, EngineFailure> {
    let (_, manager) = manager(&daemon)?;
    let nodes = manager.nodes();
    match resolve_node(&nodes, &id) {
        Ok(record) => Ok(Json(docker_node(record.clone(), manager.leader_id()))),
        Err(_) => Err(EngineFailure::not_found("node", &id)),
    }
}
