//! `/secrets` in Docker's shape (`docker secret ls`, `inspect`): names
//! and labels, never the value (Docker does not show it either).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;

use super::super::core::Daemon;
use super::filters::FilterQuery;
use super::shapes::{ObjectVersion, rfc3339_secs};
use super::{EngineFailure, store_tables};
use crate::cluster::SecretRecord;

/// A secret as Docker's API shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerSecret {
    #[serde(rename = "ID")]
    id: String,
    version: ObjectVersion,
    created_at: String,
    updated_at: String,
    spec: SecretSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SecretSpec {
    name: String,
    labels: BTreeMap<String, String>,
}

fn docker_secret(record: &SecretRecord) -> DockerSecret {
    DockerSecret {
        id: record.id.clone(),
        version: ObjectVersion { index: 1 },
        created_at: rfc3339_secs(record.created_at),
        updated_at: rfc3339_secs(record.created_at),
        spec: SecretSpec {
            name: record.name.clone(),
            labels: record.labels.clone(),
        },
    }
}

/// `GET /secrets`: filters `id`, `name` (prefixes), `label`.
pub(crate) async fn list(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<FilterQuery>,
) -> Result<Json<Vec<DockerSecret>>, EngineFailure> {
    let filters = query.parse().map_err(EngineFailure::bad_request)?;
    if let Some(name) = filters.unknown(&["id", "name", "label"]) {
        return Err(EngineFailure::bad_request(format!(
            "invalid filter '{name}'"
        )));
    }
    let tables = store_tables(&daemon)?;
    let secrets = tables
        .secrets
        .values()
        .filter(|s| filters.accepts_prefix("id", &s.id) && filters.accepts_prefix("name", &s.name))
        .filter(|s| filters.accepts_labels(&s.labels))
        .map(docker_secret)
        .collect();
    Ok(Json(secrets))
}

/// `GET /secrets/{id}`: by ID, name or unique ID prefix.
pub(crate) async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> Result<Json<DockerSecret>, EngineFailure> {
    let tables = store_tables(&daemon)?;
    crate::manager::resolve(&tables.secrets, &id, "secret", |s| &s.name)
        .map(|s| Json(docker_secret(s)))
        .map_err(|_| EngineFailure::not_found("secret", &id))
}
