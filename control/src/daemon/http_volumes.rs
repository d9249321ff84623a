//! The node's volumes (in a swarm or not): `GET /volumes`,
//! `GET /volumes/{name}`, `DELETE /volumes/{name}` (refused while a
//! container on the node mounts it). Volumes are local to a node, as
//! Docker's `local` driver's are; tasks create them on first use.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::calls::on_runtime;
use super::core::Daemon;
use super::http_api::ApiFailure;
use crate::api::VolumeView;
use crate::runtime::RuntimeError;
use crate::runtime::volumes::VolumeInfo;

/// The volume routes (merged into the API's router).
pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

/// A volume as shoal's API shows it.
pub(crate) fn view(info: VolumeInfo) -> VolumeView {
    VolumeView {
        name: info.name,
        driver: "local".to_owned(),
        mountpoint: info.mountpoint.display().to_string(),
        created_at: info.created_at_secs,
    }
}

async fn list(State(daemon): State<Arc<Daemon>>) -> Result<Json<Vec<VolumeView>>, ApiFailure> {
    let infos = on_runtime(&daemon.runtime, "listing volumes", |rt| {
        Ok(rt.volumes().list().map_err(RuntimeError::from)?)
    })
    .await?;
    Ok(Json(infos.into_iter().map(view).collect()))
}

async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
) -> Result<Json<VolumeView>, ApiFailure> {
    let info = on_runtime(&daemon.runtime, "inspecting a volume", move |rt| {
        Ok(rt.volumes().inspect(&name).map_err(RuntimeError::from)?)
    })
    .await?;
    Ok(Json(view(info)))
}

async fn remove(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiFailure> {
    on_runtime(&daemon.runtime, "removing a volume", move |rt| {
        Ok(rt.remove_volume(&name)?)
    })
    .await?;
    Ok(Json(json!({})))
}
