//! `/configs` in Docker's shape (`docker config ls/inspect/create/rm`,
//! stacks' `configs:`): list with filters, inspect (the value in
//! `Spec.Data`, base64, as Docker shows it), create, update (labels only:
//! Docker refuses a data change too) and delete, run on the leader like
//! shoal's own API.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::super::core::Daemon;
use super::super::http_api::{api_call, decode};
use super::filters::FilterQuery;
use super::shapes::{ObjectVersion, parse_body, rfc3339_secs};
use super::{EngineFailure, store_tables};
use crate::api::{ConfigCreateRequest, ConfigUpdateRequest, ConfigView};
use crate::cluster::ConfigRecord;
use crate::ctl::ApiOp;

/// A config as Docker's API shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerConfig {
    #[serde(rename = "ID")]
    id: String,
    version: ObjectVersion,
    created_at: String,
    updated_at: String,
    spec: ConfigSpecOut,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigSpecOut {
    name: String,
    labels: BTreeMap<String, String>,
    data: String,
}

fn docker_config(record: &ConfigRecord) -> DockerConfig {
    DockerConfig {
        id: record.id.clone(),
        version: ObjectVersion {
            index: record.version,
        },
        created_at: rfc3339_secs(record.created_at),
        updated_at: rfc3339_secs(record.updated_at),
        spec: ConfigSpecOut {
            name: record.name.clone(),
            labels: record.labels.clone(),
            data: record.data_b64.clone(),
        },
    }
}

/// Docker's `ConfigSpec` (create and update bodies).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ConfigSpecIn {
    name: String,
    labels: Option<BTreeMap<String, String>>,
    data: String,
    templating: Option<Value>,
}

impl ConfigSpecIn {
    fn parse(body: &[u8]) -> Result<ConfigSpecIn, EngineFailure> {
        let spec: ConfigSpecIn = parse_body(body)?;
        if spec.templating.as_ref().is_some_and(|t| !t.is_null()) {
            return Err(EngineFailure::unsupported("Templating"));
        }
        Ok(spec)
    }
}

/// `GET /configs`: filters `id`, `name` (prefixes), `label`.
pub(crate) async fn list(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<FilterQuery>,
) -> Result<Json<Vec<DockerConfig>>, EngineFailure> {
    let filters = query.parse().map_err(EngineFailure::bad_request)?;
    if let Some(name) = filters.unknown(&["id", "name", "label"]) {
        return Err(EngineFailure::bad_request(format!(
            "invalid filter '{name}'"
        )));
    }
    let tables = store_tables(&daemon)?;
    let configs = tables
        .configs
        .values()
        .filter(|c| filters.accepts_prefix("id", &c.id) && filters.accepts_prefix("name", &c.name))
        .filter(|c| filters.accepts_labels(&c.labels))
        .map(docker_config)
        .collect();
    Ok(Json(configs))
}

/// `GET /configs/{id}`: by ID, name or unique ID prefix.
pub(crate) async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> Result<Json<DockerConfig>, EngineFailure> {
    let tables = store_tables(&daemon)?;
    crate::manager::resolve(&tables.configs, &id, "config", |c| &c.name)
        .map(|c| Json(docker_config(c)))
        .map_err(|_| EngineFailure::not_found("config", &id))
}

/// `POST /configs/create`: 201 `{"ID": ...}`.
pub(crate) async fn create(
    State(daemon): State<Arc<Daemon>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), EngineFailure> {
    let spec = ConfigSpecIn::parse(&body)?;
    let request = ConfigCreateRequest {
        name: spec.name,
        data_b64: spec.data,
        labels: spec.labels.unwrap_or_default(),
    };
    let op = ApiOp::CreateConfig {
        request: Box::new(request),
    };
    let created: ConfigView = decode(api_call(&daemon, op).await?)?;
    Ok((StatusCode::CREATED, Json(json!({"ID": created.id}))))
}

/// `?version=N` of an update.
#[derive(Deserialize)]
pub(crate) struct VersionQuery {
    version: Option<u64>,
}

/// Checks that an update changes only labels: its name must be the
/// config's and its data (when sent, as Docker's clients do) the same.
fn check_labels_only(record: &ConfigRecord, spec: &ConfigSpecIn) -> Result<(), EngineFailure> {
    let engine = base64::engine::general_purpose::STANDARD;
    let same_data = spec.data.is_empty()
        || engine.decode(&spec.data).ok() == engine.decode(&record.data_b64).ok();
    let same_name = spec.name.is_empty() || spec.name == record.name;
    if same_data && same_name {
        Ok(())
    } else {
        Err(EngineFailure::bad_request(
            "only updates to Labels are allowed",
        ))
    }
}

/// `POST /configs/{id}/update?version=N`: 200, labels only.
pub(crate) async fn update(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
    body: Bytes,
) -> Result<StatusCode, EngineFailure> {
    let spec = ConfigSpecIn::parse(&body)?;
    let tables = store_tables(&daemon)?;
    let record = crate::manager::resolve(&tables.configs, &id, "config", |c| &c.name)
        .map_err(|_| EngineFailure::not_found("config", &id))?;
    check_labels_only(record, &spec)?;
    let request = ConfigUpdateRequest {
        target: record.id.clone(),
        version: query.version,
        labels: spec.labels.unwrap_or_default(),
    };
    let op = ApiOp::UpdateConfig {
        request: Box::new(request),
    };
    api_call(&daemon, op).await?;
    Ok(StatusCode::OK)
}

/// `DELETE /configs/{id}`: 204.
pub(crate) async fn remove(
    State(daemon): State<Arc<Daemon>>,
    Path(target): Path<String>,
) -> Result<StatusCode, EngineFailure> {
    api_call(&daemon, ApiOp::RemoveConfig { target }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ConfigRecord {
        ConfigRecord {
            id: "c1".into(),
            name: "site".into(),
            data_b64: "bGlzdGVuIDgwOw==".into(),
            labels: BTreeMap::new(),
            created_at: 0,
            updated_at: 60,
            version: 3,
        }
    }

    #[test]
    fn configs_show_their_data_and_version_as_docker_does() {
        let json = serde_json::to_value(docker_config(&record())).unwrap();
        assert_eq!(json["ID"], "c1");
        assert_eq!(json["Version"]["Index"], 3);
        assert_eq!(json["Spec"]["Name"], "site");
        assert_eq!(json["Spec"]["Data"], "bGlzdGVuIDgwOw==");
        assert_eq!(json["UpdatedAt"], "1970-01-01T00:01:00Z");
    }

    #[test]
    fn an_update_may_change_labels_only() {
        let parse = |body: &str| ConfigSpecIn::parse(body.as_bytes()).map_err(|e| e.message);
        let labels = parse(r#"{"Name":"site","Labels":{"a":"b"},"Data":"bGlzdGVuIDgwOw=="}"#);
        assert!(check_labels_only(&record(), &labels.unwrap()).is_ok());
        for body in [
            r#"{"Name":"site","Data":"eA=="}"#,
            r#"{"Name":"other","Labels":{}}"#,
        ] {
            let err = check_labels_only(&record(), &parse(body).unwrap()).unwrap_err();
            assert_eq!(err.message, "only updates to Labels are allowed", "{body}");
        }
        let templated = parse(r#"{"Name":"x","Data":"eA==","Templating":{"Name":"golang"}}"#);
        assert_eq!(
            templated.err().as_deref(),
            Some("Templating is not supported by shoal")
        );
    }
}
