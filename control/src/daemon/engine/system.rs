//! `/_ping`, `/version` and `/info` in Docker's shapes.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::super::core::{Daemon, Phase};
use super::super::heartbeat::ENGINE_VERSION;
use super::super::views;
use super::version::{MAX, MIN};
use crate::api::SwarmState;

/// `GET|HEAD /_ping`: `OK`, and in headers what a client negotiates with:
/// the newest API version, the OS, and the node's swarm state (Docker 24's
/// `Swarm` header: `inactive`, `locked`, `active/worker`,
/// `active/manager`).
pub(crate) async fn ping(State(daemon): State<Arc<Daemon>>) -> Response {
    let swarm = daemon.with_phase(|phase| match phase {
        Phase::Inactive => "inactive",
        Phase::Locked(_) => "locked",
        Phase::Active(active) if active.manager.is_some() => "active/manager",
        Phase::Active(_) => "active/worker",
    });
    let mut response = "OK".into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("api-version", MAX.to_string()),
        ("ostype", "linux".to_owned()),
        ("docker-experimental", "false".to_owned()),
        ("swarm", swarm.to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Go's name for this machine's architecture, as Docker reports it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The running kernel's release (`uname -r`).
fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// `GET /version`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VersionBody {
    platform: Platform,
    version: &'static str,
    api_version: String,
    #[serde(rename = "MinAPIVersion")]
    min_api_version: String,
    os: &'static str,
    arch: &'static str,
    kernel_version: String,
    git_commit: &'static str,
    go_version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Platform {
    name: &'static str,
}

/// `GET /version`: shoal's version as the engine's.
pub(crate) async fn version() -> Json<VersionBody> {
    Json(VersionBody {
        platform: Platform { name: "shoal" },
        version: ENGINE_VERSION,
        api_version: MAX.to_string(),
        min_api_version: MIN.to_string(),
        os: "linux",
        arch: go_arch(),
        kernel_version: kernel_version(),
        git_commit: "",
        go_version: "",
    })
}

/// `GET /info`: the node and its swarm section (what `docker info` and
/// `docker node ls` read: `Swarm.NodeID` marks this node with `*`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InfoBody {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    server_version: &'static str,
    operating_system: &'static str,
    #[serde(rename = "OSType")]
    os_type: &'static str,
    architecture: &'static str,
    #[serde(rename = "NCPU")]
    ncpu: usize,
    kernel_version: String,
    swarm: SwarmSection,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SwarmSection {
    #[serde(rename = "NodeID")]
    node_id: String,
    node_addr: String,
    local_node_state: &'static str,
    control_available: bool,
    error: &'static str,
    nodes: usize,
    managers: usize,
    cluster: Option<ClusterSection>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ClusterSection {
    #[serde(rename = "ID")]
    id: String,
}

/// The address part of `host:port` (Docker's `NodeAddr` has no port).
pub(crate) fn host_of(addr: &str) -> String {
    addr.parse::<std::net::SocketAddr>()
        .map_or_else(|_| addr.to_owned(), |a| a.ip().to_string())
}

pub(crate) async fn info(State(daemon): State<Arc<Daemon>>) -> Json<InfoBody> {
    let swarm = views::swarm_info(&daemon);
    let local_node_state = match swarm.state {
        SwarmState::Inactive => "inactive",
        SwarmState::Locked => "locked",
        SwarmState::Active => "active",
    };
    Json(InfoBody {
        id: swarm.node_id.clone().unwrap_or_default(),
        name: daemon.opts.node_name.clone(),
        server_version: ENGINE_VERSION,
        operating_system: "shoal",
        os_type: "linux",
        architecture: std::env::consts::ARCH,
        ncpu: std::thread::available_parallelism().map_or(1, usize::from),
        kernel_version: kernel_version(),
        swarm: SwarmSection {
            node_id: swarm.node_id.unwrap_or_default(),
            node_addr: swarm.node_addr.as_deref().map(host_of).unwrap_or_default(),
            local_node_state,
            control_available: swarm.managers.is_some(),
            error: "",
            nodes: swarm.nodes.unwrap_or(0),
            managers: swarm.managers.unwrap_or(0),
            cluster: swarm.cluster_id.map(|id| ClusterSection { id }),
        },
    })
}
