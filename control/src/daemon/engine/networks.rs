//! `/networks` in Docker's shape (`docker network ls`, `inspect`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;

use super::super::core::Daemon;
use super::filters::FilterQuery;
use super::shapes::rfc3339_secs;
use super::{EngineFailure, store_tables};
use crate::cluster::NetworkRecord;

/// A network as Docker's API shows it (Docker spells this one's ID `Id`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerNetwork {
    name: String,
    id: String,
    created: String,
    scope: &'static str,
    driver: String,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    ipam: Ipam,
    internal: bool,
    attachable: bool,
    ingress: bool,
    options: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    driver: &'static str,
    config: Vec<IpamConfig>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfig {
    subnet: String,
    gateway: String,
}

fn docker_network(record: &NetworkRecord) -> DockerNetwork {
    let mut options = BTreeMap::from([(
        "com.docker.network.driver.overlay.vxlanid_list".to_owned(),
        record.vni.to_string(),
    )]);
    if record.encrypted {
        options.insert("encrypted".to_owned(), String::new());
    }
    DockerNetwork {
        name: record.name.clone(),
        id: record.id.clone(),
        created: rfc3339_secs(record.created_at),
        scope: "swarm",
        driver: record.driver.clone(),
        enable_ipv6: false,
        ipam: Ipam {
            driver: "default",
            config: vec![IpamConfig {
                subnet: record.subnet.clone(),
                gateway: record.gateway.to_string(),
            }],
        },
        internal: record.internal,
        attachable: false,
        ingress: record.ingress,
        options,
        labels: record.labels.clone(),
    }
}

/// `GET /networks`: filters `id`, `name` (prefixes), `driver`, `scope`.
pub(crate) async fn list(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<FilterQuery>,
) -> Result<Json<Vec<DockerNetwork>>, EngineFailure> {
    let filters = query.parse().map_err(EngineFailure::bad_request)?;
    if let Some(name) = filters.unknown(&["id", "name", "driver", "scope", "label"]) {
        return Err(EngineFailure::bad_request(format!(
            "invalid filter '{name}'"
        )));
    }
    let tables = store_tables(&daemon)?;
    let networks = tables
        .networks
        .values()
        .filter(|n| filters.accepts_prefix("id", &n.id) && filters.accepts_prefix("name", &n.name))
        .filter(|n| filters.accepts_labels(&n.labels))
        .filter(|n| {
            filters.accepts("driver", [n.driver.as_str()]) && filters.accepts("scope", ["swarm"])
        })
        .map(docker_network)
        .collect();
    Ok(Json(networks))
}

/// `GET /networks/{id}`: by ID, name or unique ID prefix.
pub(crate) async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> Result<Json<DockerNetwork>, EngineFailure> {
    let tables = store_tables(&daemon)?;
    crate::manager::resolve(&tables.networks, &id, "network", |n| &n.name)
        .map(|n| Json(docker_network(n)))
        .map_err(|_| EngineFailure::not_found("network", &id))
}
