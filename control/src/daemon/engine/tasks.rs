//! `/tasks` in Docker's shape (`docker service ps`, `docker node ps`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;

use super::super::core::Daemon;
use super::filters::{FilterQuery, Filters};
use super::shapes::{ObjectVersion, rfc3339_millis};
use super::{EngineFailure, store_tables};
use crate::manager::{ClusterTables, views};
use shoal_model::api::TaskView;

/// A task as Docker's API shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerTask {
    #[serde(rename = "ID")]
    id: String,
    version: ObjectVersion,
    created_at: String,
    updated_at: String,
    name: String,
    spec: TaskSpec,
    #[serde(rename = "ServiceID")]
    service_id: String,
    slot: u64,
    #[serde(rename = "NodeID", skip_serializing_if = "String::is_empty")]
    node_id: String,
    status: TaskStatus,
    desired_state: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TaskSpec {
    container_spec: ContainerSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerSpec {
    image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TaskStatus {
    timestamp: String,
    state: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    err: Option<String>,
}

fn docker_task(view: TaskView) -> DockerTask {
    let task = view.task;
    DockerTask {
        id: task.id,
        version: ObjectVersion {
            index: task.spec_version,
        },
        created_at: rfc3339_millis(task.status.timestamp.0),
        updated_at: rfc3339_millis(task.status.timestamp.0),
        name: view.name,
        spec: TaskSpec {
            container_spec: ContainerSpec {
                image: task.spec.image,
                args: task.spec.args,
            },
        },
        service_id: task.service_id,
        slot: task.slot,
        node_id: task.node_id.unwrap_or_default(),
        status: TaskStatus {
            timestamp: rfc3339_millis(task.status.timestamp.0),
            state: task.status.state.name(),
            message: task.status.message,
            err: task.status.err,
        },
        desired_state: task.desired_state.name(),
    }
}

/// Whether `view` passes Docker's task filters: `id`, `name`, `service`
/// (ID or name), `node` (ID or hostname), `desired-state`, `label` (the
/// service's labels, as Docker's stacks use it).
fn passes(filters: &Filters, view: &TaskView, service_labels: &BTreeMap<String, String>) -> bool {
    let task = &view.task;
    let node = task.node_id.as_deref().unwrap_or_default();
    let hostname = view.node_hostname.as_deref().unwrap_or_default();
    filters.accepts_prefix("id", &task.id)
        && filters.accepts("name", [view.name.as_str()])
        && filters.accepts(
            "service",
            [task.service_id.as_str(), view.service_name.as_str()],
        )
        && filters.accepts("node", [node, hostname])
        && filters.accepts("desired-state", [task.desired_state.name()])
        && filters.accepts_labels(service_labels)
}

/// `GET /tasks`.
pub(crate) async fn list(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<FilterQuery>,
) -> Result<Json<Vec<DockerTask>>, EngineFailure> {
    let filters = query.parse().map_err(EngineFailure::bad_request)?;
    let known = [
        "id",
        "name",
        "service",
        "node",
        "desired-state",
        "label",
        "_up-to-date",
    ];
    if let Some(name) = filters.unknown(&known) {
        return Err(EngineFailure::bad_request(format!(
            "invalid filter '{name}'"
        )));
    }
    let tables = store_tables(&daemon)?;
    Ok(Json(
        all_views(&tables)
            .into_iter()
            .filter(|v| {
                let labels = tables
                    .services
                    .get(&v.task.service_id)
                    .map(|s| &s.spec.labels);
                passes(&filters, v, labels.unwrap_or(&BTreeMap::new()))
            })
            .map(docker_task)
            .collect(),
    ))
}

fn all_views(tables: &ClusterTables) -> Vec<TaskView> {
    tables
        .tasks
        .values()
        .map(|t| views::task_view(tables, t.clone()))
        .collect()
}

/// `GET /tasks/{id}`.
pub(crate) async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> Result<Json<DockerTask>, EngineFailure> {
    let tables = store_tables(&daemon)?;
    let task = tables
        .tasks
        .get(&id)
        .cloned()
        .ok_or_else(|| EngineFailure::not_found("task", &id))?;
    Ok(Json(docker_task(views::task_view(&tables, task))))
}
