//! `POST /services/create` and `POST /services/{id}/update` with Docker's
//! spec (`docker service create`, `update`, `scale`, `rollback`): the spec
//! is translated ([`super::spec_in`]) and run as shoal's own create or
//! update on the leader, so every check of shoal's API applies. The image
//! is kept as the client sent it (the docker CLI pins it to a digest
//! itself); an `X-Registry-Auth` header becomes the service's registry
//! login.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::core::Daemon;
use super::super::http_api::{api_call, decode};
use super::registry_auth;
use super::spec_in::{self, SpecInError};
use super::{EngineFailure, store_tables};
use crate::api::{ServiceCreateResponse, ServiceUpdateRequest};
use crate::ctl::ApiOp;
use crate::manager::{ClusterTables, resolve};

impl From<SpecInError> for EngineFailure {
    fn from(err: SpecInError) -> Self {
        EngineFailure::bad_request(err)
    }
}

/// The name of the network `target` names (ID, name or ID prefix).
fn network_name(tables: &ClusterTables, target: &str) -> Option<String> {
    resolve(&tables.networks, target, "network", |n| &n.name)
        .ok()
        .map(|n| n.name.clone())
}

fn translate(
    daemon: &Daemon,
    body: &[u8],
) -> Result<shoal_model::spec::ServiceSpec, EngineFailure> {
    let tables = store_tables(daemon)?;
    Ok(spec_in::decode(body)?.into_spec(|target| network_name(&tables, target))?)
}

/// `POST /services/create`: `{"ID": ..., "Warnings": [...]}`.
pub(crate) async fn create(
    State(daemon): State<Arc<Daemon>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, EngineFailure> {
    let mut spec = translate(&daemon, &body)?;
    spec.task.registry_auth = registry_auth::from_headers(&headers, &spec.task.image);
    let op = ApiOp::CreateService {
        spec: Box::new(spec),
    };
    let created: ServiceCreateResponse = decode(api_call(&daemon, op).await?)?;
    Ok(Json(
        json!({"ID": created.id, "Warnings": created.warnings}),
    ))
}

/// `?version=N` (required, as Docker's) and `?rollback=previous`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct UpdateQuery {
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    rollback: Option<String>,
}

/// `POST /services/{id}/update?version=N`: `{"Warnings": []}`. With
/// `rollback=previous` the body is ignored and the service returns to its
/// previous spec (what `docker service rollback` sends).
pub(crate) async fn update(
    State(daemon): State<Arc<Daemon>>,
    Path(target): Path<String>,
    Query(query): Query<UpdateQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, EngineFailure> {
    if query.rollback.as_deref() == Some("previous") {
        api_call(&daemon, ApiOp::RollbackService { target }).await?;
        return Ok(Json(json!({"Warnings": []})));
    }
    let Some(version) = query.version else {
        return Err(EngineFailure::bad_request(
            "invalid service version: the version query parameter is required",
        ));
    };
    let mut spec = translate(&daemon, &body)?;
    // None keeps the service's login (the manager's rule, Docker's
    // `registryAuthFrom=spec`).
    spec.task.registry_auth = registry_auth::from_headers(&headers, &spec.task.image);
    let request = ServiceUpdateRequest {
        spec,
        version: Some(version),
        force: false,
    };
    let op = ApiOp::UpdateService {
        target,
        request: Box::new(request),
    };
    api_call(&daemon, op).await?;
    Ok(Json(json!({"Warnings": []})))
}
