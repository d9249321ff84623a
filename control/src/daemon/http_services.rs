//! The service, task, network and secret routes of the API (the table in
//! [`crate::api::services`]). Reads answer from this manager's store;
//! changes go through the leader.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::DaemonError;
use super::core::{Active, Daemon};
use super::http_api::{ApiJson, ApiResult, Shared, api_call, decode};
use crate::api::{
    NetworkCreateRequest, SecretCreateRequest, SecretView, ServiceCreateResponse,
    ServiceUpdateRequest, ServiceView, TaskLogs, TaskView,
};
use crate::cluster::NetworkRecord;
use crate::ctl::{ApiOp, CtlRequest};
use crate::manager::{self, ClusterTables, api, views};
use crate::spec::ServiceSpec;

/// How long one node may take to send a task's logs.
const LOGS_TIMEOUT: Duration = Duration::from_secs(10);

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
        .route("/services/{id}/logs", get(service_logs))
        .route("/tasks", get(task_list))
        .route("/networks", get(network_list))
        .route("/networks/create", post(network_create))
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
    ApiJson(spec): ApiJson<ServiceSpec>,
) -> ApiResult<ServiceCreateResponse> {
    Ok(Json(decode(
        api_call(
            &daemon,
            ApiOp::CreateService {
                spec: Box::new(spec),
            },
        )
        .await?,
    )?))
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

async fn service_inspect(State(daemon): Shared, Path(id): Path<String>) -> ApiResult<ServiceView> {
    let tables = tables(&daemon)?;
    let service = manager::resolve(&tables.services, &id, "service", |s| &s.spec.name)
        .map_err(DaemonError::from)?
        .clone();
    Ok(Json(views::service_view(&tables, service)))
}

async fn service_update(
    State(daemon): Shared,
    Path(target): Path<String>,
    ApiJson(request): ApiJson<ServiceUpdateRequest>,
) -> ApiResult<ServiceView> {
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

/// `?tail=N`.
#[derive(Debug, Default, Deserialize)]
struct LogsQuery {
    #[serde(default)]
    tail: Option<usize>,
}

/// Asks every node running (or having run) a task of the service for its
/// output, all at once; a node that cannot answer gives the task an error.
async fn service_logs(
    State(daemon): Shared,
    Path(id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> ApiResult<Vec<TaskLogs>> {
    let (active, _) = daemon.manager()?;
    let tables = tables(&daemon)?;
    let service = manager::resolve(&tables.services, &id, "service", |s| &s.spec.name)
        .map_err(DaemonError::from)?;
    let tasks = views::task_views(&tables, Some(&service.id)).map_err(DaemonError::from)?;
    let mut calls = tokio::task::JoinSet::new();
    for (order, view) in tasks.into_iter().enumerate() {
        let Some(node) = view.task.node_id.as_ref().and_then(|n| tables.nodes.get(n)) else {
            continue;
        };
        let logs = TaskLogs {
            task_id: view.task.id.clone(),
            name: view.name.clone(),
            node: node.hostname.clone(),
            text: String::new(),
            error: None,
        };
        let (active, addr, node_id) = (active.clone(), node.addr.clone(), node.id.clone());
        calls.spawn(async move {
            let logs = fetch_logs(&active, &addr, &node_id, logs, query.tail).await;
            (order, logs)
        });
    }
    let mut answers = calls.join_all().await;
    answers.sort_by_key(|(order, _)| *order);
    Ok(Json(answers.into_iter().map(|(_, logs)| logs).collect()))
}

/// Fills `logs` from node `node_id` at `addr` (a worker's certificate
/// names the node, not `swarm-manager`), or says why it could not.
async fn fetch_logs(
    active: &Active,
    addr: &str,
    node_id: &str,
    mut logs: TaskLogs,
    tail: Option<usize>,
) -> TaskLogs {
    let request = CtlRequest::TaskLogs {
        task_id: logs.task_id.clone(),
        tail,
    };
    match active
        .ctl
        .call_node(addr, node_id, &request, LOGS_TIMEOUT)
        .await
    {
        Ok(value) => match logs_text(value) {
            Some(text) => logs.text = text,
            None => logs.error = Some("the node sent logs in an unknown shape".to_owned()),
        },
        Err(err) => logs.error = Some(DaemonError::from(err).full_message()),
    }
    logs
}

/// The text of a node's answer: a string, or an object with `text`.
fn logs_text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        Value::Object(mut fields) => match fields.remove("text") {
            Some(Value::String(text)) => Some(text),
            _ => None,
        },
        _ => None,
    }
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
