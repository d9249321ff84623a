//! The node's image routes (in a swarm or not): `POST /images/load` takes
//! an image archive (`docker save` or OCI layout tar) as the request body,
//! `POST /images/pull` pulls a reference from a registry (https, plain
//! http for insecure registries; with the node's stored login, see
//! `http_registry`), `GET /images` lists the node's images, `POST
//! /images/remove` and `POST /images/prune` delete images no container on
//! the node uses.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt as _;

use super::DaemonError;
use super::calls::on_runtime;
use super::core::Daemon;
use super::http_api::ApiFailure;
use super::http_api::ApiJson;
use crate::api::{
    ImagePruneRequest, ImagePullRequest, ImageRemoveRequest, ImageView, ImagesRemovedView,
    LoadedImageView,
};
use crate::runtime::Runtime;
use crate::runtime::image::{Digest, LoadedImage, Reference, RemovedImages, prunable};

/// Largest archive `image load` accepts.
const MAX_ARCHIVE_BYTES: u64 = 2 << 30;

/// The image routes (merged into the API's router).
pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/images", get(image_list))
        .route("/images/load", post(image_load))
        .route("/images/pull", post(image_pull))
        .route("/images/remove", post(image_remove))
        .route("/images/prune", post(image_prune))
}

async fn image_list(State(daemon): State<Arc<Daemon>>) -> Result<Json<Vec<ImageView>>, ApiFailure> {
    let rows = on_runtime(&daemon.runtime, "listing images", |rt| {
        Ok(rt.images().list()?)
    })
    .await?;
    let views = rows
        .into_iter()
        .map(|row| ImageView {
            repository: row.repository,
            tag: row.tag,
            id: row.id.to_string(),
            size: row.size,
            digest: Some(row.manifest.to_string()),
        })
        .collect();
    Ok(Json(views))
}

/// Receives an image archive (the request body) and loads it into the
/// node's store (shoal's `image load` and Docker's `docker load`).
pub(crate) async fn load_archive(
    daemon: &Daemon,
    body: Body,
) -> Result<Vec<LoadedImage>, DaemonError> {
    let upload = Upload::new(daemon.paths.dir())?;
    let path = upload.path.clone();
    receive(body, &path).await?;
    let loaded = on_runtime(&daemon.runtime, "loading an image", move |rt| {
        Ok(rt.images().load(&path)?)
    })
    .await?;
    drop(upload);
    Ok(loaded)
}

async fn image_load(
    State(daemon): State<Arc<Daemon>>,
    body: Body,
) -> Result<Json<Vec<LoadedImageView>>, ApiFailure> {
    let loaded = load_archive(&daemon, body).await?;
    let views = loaded
        .into_iter()
        .map(|image| LoadedImageView {
            name: image.name.map(|name| name.to_string()),
            id: image.id.to_string(),
            digest: Some(image.manifest.to_string()),
            up_to_date: false,
            downloaded_blobs: None,
        })
        .collect();
    Ok(Json(views))
}

async fn image_pull(
    State(daemon): State<Arc<Daemon>>,
    ApiJson(request): ApiJson<ImagePullRequest>,
) -> Result<Json<Vec<LoadedImageView>>, ApiFailure> {
    let registry = Reference::parse(&request.reference)
        .map_err(DaemonError::from)?
        .registry;
    let access = daemon.registry_access(&registry)?;
    let pulled = on_runtime(&daemon.runtime, "pulling an image", move |rt| {
        Ok(rt.images().pull_with(&request.reference, &access)?)
    })
    .await?;
    Ok(Json(vec![LoadedImageView {
        name: pulled.image.name.map(|name| name.to_string()),
        id: pulled.image.id.to_string(),
        digest: Some(pulled.image.manifest.to_string()),
        up_to_date: pulled.up_to_date,
        downloaded_blobs: Some(pulled.fetched.len()),
    }]))
}

/// The manifests of the images the node's containers (any state) run.
fn images_in_use(runtime: &Runtime) -> Result<BTreeSet<Digest>, DaemonError> {
    let store = runtime.images();
    Ok(runtime
        .list()?
        .iter()
        .filter_map(|c| store.resolve(&c.image).ok())
        .map(|image| image.manifest)
        .collect())
}

/// Runs `f` on the runtime in a blocking thread: what it removed.
async fn removing(
    daemon: &Daemon,
    f: impl FnOnce(&Runtime, &BTreeSet<Digest>) -> Result<RemovedImages, DaemonError> + Send + 'static,
) -> Result<Json<ImagesRemovedView>, ApiFailure> {
    let removed = on_runtime(&daemon.runtime, "removing images", move |rt| {
        f(rt, &images_in_use(rt)?)
    })
    .await?;
    Ok(Json(ImagesRemovedView {
        untagged: removed.untagged,
        deleted: removed.deleted.iter().map(ToString::to_string).collect(),
        reclaimed: removed.reclaimed,
    }))
}

async fn image_remove(
    State(daemon): State<Arc<Daemon>>,
    ApiJson(request): ApiJson<ImageRemoveRequest>,
) -> Result<Json<ImagesRemovedView>, ApiFailure> {
    removing(&daemon, move |runtime, in_use| {
        Ok(runtime.images().remove(&request.reference, in_use)?)
    })
    .await
}

async fn image_prune(
    State(daemon): State<Arc<Daemon>>,
    ApiJson(request): ApiJson<ImagePruneRequest>,
) -> Result<Json<ImagesRemovedView>, ApiFailure> {
    removing(&daemon, move |runtime, in_use| {
        let store = runtime.images();
        let doomed = prunable(&store.list()?, in_use, request.all);
        Ok(store.remove_images(&doomed, in_use)?)
    })
    .await
}

/// A temporary file for an uploaded archive, removed when dropped.
struct Upload {
    path: PathBuf,
}

impl Upload {
    fn new(state_dir: &Path) -> Result<Self, DaemonError> {
        let dir = state_dir.join("uploads");
        std::fs::create_dir_all(&dir).map_err(DaemonError::io("create", &dir))?;
        let path = dir.join(format!("image-{:016x}.tar", rand::random::<u64>()));
        Ok(Upload { path })
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Best effort: a leftover is only wasted space in the state dir.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Streams the request body to `path`, refusing more than
/// [`MAX_ARCHIVE_BYTES`].
async fn receive(mut body: Body, path: &Path) -> Result<(), DaemonError> {
    let mut file = std::fs::File::create(path).map_err(DaemonError::io("create", path))?;
    let mut written: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            DaemonError::io("receive the image archive into", path)(std::io::Error::other(err))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        written += data.len() as u64;
        if written > MAX_ARCHIVE_BYTES {
            return Err(DaemonError::ArchiveTooLarge {
                limit: MAX_ARCHIVE_BYTES,
            });
        }
        // Small synchronous writes: the body arrives in chunks of a few KiB.
        file.write_all(&data)
            .map_err(DaemonError::io("write", path))?;
    }
    file.sync_all().map_err(DaemonError::io("write", path))?;
    Ok(())
}
