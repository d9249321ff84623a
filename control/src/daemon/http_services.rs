//! The service, task, network and secret routes of the API (the table in
//! [`crate::api::services`]). Reads answer from this manager's store;
//! changes go through the leader.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::DaemonError;
use super::core::Daemon;
use super::http_api::{ApiJson, ApiResult, Shared, api_call, decode};
use super::service_images::{self, ImageQuery};
use crate::api::{
    KeyRotation, NetworkCreateRequest, SecretCreateRequest, SecretView, ServiceCreateResponse,
    ServiceUpdateRequest, ServiceView, TaskView,
};
use crate::cluster::NetworkRecord;
use crate::ctl::ApiOp;
use crate::manager::{self, ClusterTables, api, views};
use crate::spec::ServiceSpec;

/// The routes, to merge into the API router.
pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/services", get(service_list))
        .route("/services/create", post(service_create))
        .route(
            "/services/{id}",
            get(service_inspect).delete(service_remove),
        )
        .route("/services/{id}/update", post(service_update))
        .route("/services/{id}/rollback", post(service_rollback))
        .route("/tasks", get(task_list))
        .route("/networks", get(network_list))
        .route("/networks/create", post(network_create))
        .route("/networks/{id}/rotate-keys", post(network_rotate_keys))
        .route(
            "/networks/{id}",
            get(network_inspect).delete(network_remove),
        )
        .route("/secrets", get(secret_list))
        .route("/secrets/create", post(secret_create))
        .route("/secrets/{id}", get(secret_inspect).delete(secret_remove))
}

/// The tables as this manager has them (a worker answers 503).
fn tables(daemon: &Daemon) -> Result<ClusterTables, DaemonError> {
    let (_, manager) = daemon.manager()?;
    Ok(api::load(&*manager))
}

async fn service_create(
    State(daemon): Shared,
    Query(images): Query<ImageQuery>,
    ApiJson(mut spec): ApiJson<ServiceSpec>,
) -> ApiResult<ServiceCreateResponse> {
    let warnings = service_images::prepare(&daemon, &mut spec.task, &images).await?;
    let op = ApiOp::CreateService {
        spec: Box::new(spec),
    };
    let mut created: ServiceCreateResponse = decode(api_call(&daemon, op).await?)?;
    created.warnings.extend(warnings);
    Ok(Json(created))
}

async fn service_list(State(daemon): Shared) -> ApiResult<Vec<ServiceView>> {
    let tables = tables(&daemon)?;
    let views = tables
        .services
        .values()
        .map(|service| views::service_view(&tables, service.clone()))
        .collect();
    Ok(Json(views))
}

/// `?consistent=1` on a read: answer only after a read barrier, so a
/// follower shows every write acknowledged before the read began (what a
/// read-modify-write such as `service scale` needs).
#[derive(Debug, Default, Deserialize)]
struct ReadQuery {
    #[serde(default)]
    consistent: Option<String>,
}

async fn service_inspect(
    State(daemon): Shared,
    Path(id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> ApiResult<ServiceView> {
    if matches!(query.consistent.as_deref(), Some("1" | "true")) {
        let active = daemon.active()?;
        super::leader::read_barrier(&active).await?;
    }
    let tables = tables(&daemon)?;
    let service = manager::resolve(&tables.services, &id, "service", |s| &s.spec.name)
        .map_err(DaemonError::from)?
        .clone();
    Ok(Json(views::service_view(&tables, service)))
}

async fn service_update(
    State(daemon): Shared,
    Path(target): Path<String>,
    Query(images): Query<ImageQuery>,
    ApiJson(mut request): ApiJson<ServiceUpdateRequest>,
) -> ApiResult<ServiceView> {
    service_images::prepare(&daemon, &mut request.spec.task, &images).await?;
    let op = ApiOp::UpdateService {
        target,
        request: Box::new(request),
    };
    Ok(Json(decode(api_call(&daemon, op).await?)?))
}

async fn service_rollback(
    State(daemon): Shared,
    Path(target): Path<String>,
) -> ApiResult<ServiceView> {
    let op = ApiOp::RollbackService { target };
    Ok(Json(decode(api_call(&daemon, op).await?)?))
}

async fn service_remove(State(daemon): Shared, Path(target): Path<String>) -> ApiResult<Value> {
    api_call(&daemon, ApiOp::RemoveService { target }).await?;
    Ok(Json(json!({})))
}

/// `?service=<id, prefix or name>`.
#[derive(Debug, Default, Deserialize)]
struct TaskQuery {
    #[serde(default)]
    service: Option<String>,
}

async fn task_list(
    State(daemon): Shared,
    Query(query): Query<TaskQuery>,
) -> ApiResult<Vec<TaskView>> {
    let tables = tables(&daemon)?;
    let views = views::task_views(&tables, query.service.as_deref()).map_err(DaemonError::from)?;
    Ok(Json(views))
}

async fn network_create(
    State(daemon): Shared,
    ApiJson(request): ApiJson<NetworkCreateRequest>,
) -> ApiResult<NetworkRecord> {
    let op = ApiOp::CreateNetwork {
        request: Box::new(request),
    };
    Ok(Json(decode(api_call(&daemon, op).await?)?))
}

async fn network_list(State(daemon): Shared) -> ApiResult<Vec<NetworkRecord>> {
    Ok(Json(tables(&daemon)?.networks.into_values().collect()))
}

async fn network_inspect(
    State(daemon): Shared,
    Path(id): Path<String>,
) -> ApiResult<NetworkRecord> {
    let tables = tables(&daemon)?;
    let network = manager::resolve(&tables.networks, &id, "network", |n| &n.name)
        .map_err(DaemonError::from)?;
    Ok(Json(network.clone()))
}

async fn network_rotate_keys(
    State(daemon): Shared,
    Path(target): Path<String>,
) -> ApiResult<KeyRotation> {
    let op = ApiOp::RotateNetworkKeys { target };
    Ok(Json(decode(api_call(&daemon, op).await?)?))
}

async fn network_remove(State(daemon): Shared, Path(target): Path<String>) -> ApiResult<Value> {
    api_call(&daemon, ApiOp::RemoveNetwork { target }).await?;
    Ok(Json(json!({})))
}

async fn secret_create(
    State(daemon): Shared,
    ApiJson(request): ApiJson<SecretCreateRequest>,
) -> ApiResult<SecretView> {
    let op = ApiOp::CreateSecret {
        request: Box::new(request),
    };
    Ok(Json(decode(api_call(&daemon, op).await?)?))
}

async fn secret_list(State(daemon): Shared) -> ApiResult<Vec<SecretView>> {
    let tables = tables(&daemon)?;
    Ok(Json(
        tables.secrets.values().map(views::secret_view).collect(),
    ))
}

async fn secret_inspect(State(daemon): Shared, Path(id): Path<String>) -> ApiResult<SecretView> {
    let tables = tables(&daemon)?;
    let secret =
        manager::resolve(&tables.secrets, &id, "secret", |s| &s.name).map_err(DaemonError::from)?;
    Ok(Json(views::secret_view(secret)))
}

async fn secret_remove(State(daemon): Shared, Path(target): Path<String>) -> ApiResult<Value> {
    api_call(&daemon, ApiOp::RemoveSecret { target }).await?;
    Ok(Json(json!({})))
}
