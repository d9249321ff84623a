//! The config routes of shoal's API (the table in
//! [`crate::api::services`]): reads answer from this manager's store,
//! changes go through the leader.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::DaemonError;
use super::core::Daemon;
use super::http_api::{ApiJson, ApiResult, Shared, api_call, decode};
use crate::api::{ConfigCreateRequest, ConfigUpdateRequest, ConfigView};
use crate::ctl::ApiOp;
use crate::manager::{self, api, views};

/// The routes, to merge into the API router.
pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/configs", get(config_list))
        .route("/configs/create", post(config_create))
        .route("/configs/{id}", get(config_inspect).delete(config_remove))
        .route("/configs/{id}/update", post(config_update))
}

async fn config_create(
    State(daemon): Shared,
    ApiJson(request): ApiJson<ConfigCreateRequest>,
) -> ApiResult<ConfigView> {
    let op = ApiOp::CreateConfig {
        request: Box::new(request),
    };
    Ok(Json(decode(api_call(&daemon, op).await?)?))
}

async fn config_list(State(daemon): Shared) -> ApiResult<Vec<ConfigView>> {
    let (_, manager) = daemon.manager()?;
    let tables = api::load(&*manager);
    Ok(Json(
        tables.configs.values().map(views::config_view).collect(),
    ))
}

async fn config_inspect(State(daemon): Shared, Path(id): Path<String>) -> ApiResult<ConfigView> {
    let (_, manager) = daemon.manager()?;
    let tables = api::load(&*manager);
    let config =
        manager::resolve(&tables.configs, &id, "config", |c| &c.name).map_err(DaemonError::from)?;
    Ok(Json(views::config_view(config)))
}

/// The body of `POST /configs/{id}/update`: the new labels and the
/// version they were read at.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelUpdate {
    #[serde(default)]
    version: Option<u64>,
    labels: BTreeMap<String, String>,
}

async fn config_update(
    State(daemon): Shared,
    Path(target): Path<String>,
    ApiJson(update): ApiJson<LabelUpdate>,
) -> ApiResult<ConfigView> {
    let request = ConfigUpdateRequest {
        target,
        version: update.version,
        labels: update.labels,
    };
    let op = ApiOp::UpdateConfig {
        request: Box::new(request),
    };
    Ok(Json(decode(api_call(&daemon, op).await?)?))
}

async fn config_remove(State(daemon): Shared, Path(target): Path<String>) -> ApiResult<Value> {
    api_call(&daemon, ApiOp::RemoveConfig { target }).await?;
    Ok(Json(json!({})))
}
