//! `/services` in Docker's shape (`docker service ls`, `inspect`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;
use serde_json::{Value, json};

use super::super::core::Daemon;
use super::filters::FilterQuery;
use super::shapes::{ObjectVersion, rfc3339_secs};
use super::spec_out::{DockerSpecOut, docker_spec, endpoint_mode, port};
use super::{EngineFailure, store_tables};
use crate::manager::{ClusterTables, resolve, views};
use shoal_model::spec::{Service, ServiceMode, TaskState};

/// A service as Docker's API shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerService {
    #[serde(rename = "ID")]
    id: String,
    version: ObjectVersion,
    created_at: String,
    updated_at: String,
    spec: DockerSpecOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_spec: Option<DockerSpecOut>,
    endpoint: Endpoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_status: Option<ServiceStatus>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Endpoint {
    spec: Value,
    ports: Vec<Value>,
    #[serde(rename = "VirtualIPs")]
    virtual_ips: Vec<VirtualIp>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VirtualIp {
    #[serde(rename = "NetworkID")]
    network_id: String,
    addr: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceStatus {
    running_tasks: u64,
    desired_tasks: u64,
    completed_tasks: u64,
}

/// The ID of the network called `name` (the name itself if unknown).
pub(crate) fn network_id(tables: &ClusterTables, name: &str) -> String {
    tables
        .networks
        .values()
        .find(|n| n.name == name)
        .map_or_else(|| name.to_owned(), |n| n.id.clone())
}

/// The VIPs of `service` with their network's ID and prefix length.
fn virtual_ips(tables: &ClusterTables, service_id: &str) -> Vec<VirtualIp> {
    let Some(endpoint) = tables.endpoints.get(service_id) else {
        return Vec::new();
    };
    endpoint
        .vips
        .iter()
        .map(|vip| {
            let network = tables.networks.values().find(|n| n.name == vip.network);
            let prefix = network
                .and_then(|n| n.subnet.split_once('/'))
                .map_or("32", |(_, len)| len);
            VirtualIp {
                network_id: network.map_or_else(|| vip.network.clone(), |n| n.id.clone()),
                addr: format!("{}/{prefix}", vip.ip),
            }
        })
        .collect()
}

/// `service` in Docker's shape; with its task counts when `status`.
fn docker_service(tables: &ClusterTables, service: Service, status: bool) -> DockerService {
    let view = views::service_view(tables, service.clone());
    let spec_ports: Vec<Value> = service.spec.ports.iter().map(port).collect();
    let endpoint_ports = view.endpoint.as_ref().map_or_else(
        || spec_ports.clone(),
        |e| e.ports.iter().map(port).collect(),
    );
    let completed = tables
        .tasks
        .values()
        .filter(|t| t.service_id == service.id && t.status.state == TaskState::Complete)
        .count() as u64;
    let id_of = |name: &str| network_id(tables, name);
    DockerService {
        id: service.id.clone(),
        version: ObjectVersion {
            index: service.version,
        },
        created_at: rfc3339_secs(service.created_at_secs),
        updated_at: rfc3339_secs(service.updated_at_secs.max(service.created_at_secs)),
        endpoint: Endpoint {
            spec: json!({"Mode": endpoint_mode(service.spec.endpoint_mode), "Ports": spec_ports}),
            ports: endpoint_ports,
            virtual_ips: virtual_ips(tables, &service.id),
        },
        spec: docker_spec(&service.spec, id_of),
        previous_spec: service
            .previous_spec
            .as_ref()
            .map(|p| docker_spec(p, id_of)),
        service_status: status.then_some(ServiceStatus {
            running_tasks: view.running,
            desired_tasks: view.desired,
            completed_tasks: completed,
        }),
    }
}

/// `?status=true` and `?filters=`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(flatten)]
    filters: FilterQuery,
}

/// `GET /services`: filters `id`, `name` (prefixes, as Docker's),
/// `mode` and `label`.
pub(crate) async fn list(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<DockerService>>, EngineFailure> {
    let filters = query.filters.parse().map_err(EngineFailure::bad_request)?;
    if let Some(name) = filters.unknown(&["id", "name", "mode", "label"]) {
        return Err(EngineFailure::bad_request(format!(
            "invalid filter '{name}'"
        )));
    }
    let tables = store_tables(&daemon)?;
    let status = matches!(query.status.as_deref(), Some("1" | "true"));
    let services = tables
        .services
        .values()
        .filter(|s| {
            filters.accepts_prefix("id", &s.id)
                && filters.accepts_prefix("name", &s.spec.name)
                && filters.accepts_labels(&s.spec.labels)
        })
        .filter(|s| {
            let mode = match s.spec.mode {
                ServiceMode::Replicated { .. } => "replicated",
                ServiceMode::Global => "global",
            };
            filters.accepts("mode", [mode])
        })
        .map(|s| docker_service(&tables, s.clone(), status))
        .collect();
    Ok(Json(services))
}

/// `GET /services/{id}`: by ID, name or unique ID prefix.
pub(crate) async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> Result<Json<DockerService>, EngineFailure> {
    let tables = store_tables(&daemon)?;
    let service = resolve(&tables.services, &id, "service", |s| &s.spec.name)
        .map_err(|_| EngineFailure::not_found("service", &id))?
        .clone();
    Ok(Json(docker_service(&tables, service, false)))
}
