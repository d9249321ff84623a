//! The node's image routes (in a swarm or not): `POST /images/load` takes
//! an image archive (`docker save` or OCI layout tar) as the request body,
//! `POST /images/pull` pulls a reference from a registry (plain http to
//! `localhost` or an IP address), `GET /images` lists the node's images.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt as _;

use super::DaemonError;
use super::core::Daemon;
use super::http::ApiFailure;
use crate::api::{ImagePullRequest, ImageView, LoadedImageView};

/// Largest archive `image load` accepts.
const MAX_ARCHIVE_BYTES: u64 = 2 << 30;

/// The image routes (merged into the API's router).
pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/images", get(image_list))
        .route("/images/load", post(image_load))
        .route("/images/pull", post(image_pull))
}

async fn image_list(State(daemon): State<Arc<Daemon>>) -> Result<Json<Vec<ImageView>>, ApiFailure> {
    let runtime = daemon.runtime.clone();
    let rows = tokio::task::spawn_blocking(move || runtime.images().list())
        .await
        .map_err(|_| DaemonError::TaskPanicked {
            what: "listing images",
        })?
        .map_err(DaemonError::from)?;
    let views = rows
        .into_iter()
        .map(|row| ImageView {
            repository: row.repository,
            tag: row.tag,
            id: row.id.to_string(),
            size: row.size,
        })
        .collect();
    Ok(Json(views))
}

async fn image_load(
    State(daemon): State<Arc<Daemon>>,
    body: Body,
) -> Result<Json<Vec<LoadedImageView>>, ApiFailure> {
    let upload = Upload::new(daemon.paths.dir())?;
    let path = upload.path.clone();
    receive(body, &path).await?;
    let runtime = daemon.runtime.clone();
    let loaded = tokio::task::spawn_blocking(move || runtime.images().load(&path))
        .await
        .map_err(|_| DaemonError::TaskPanicked {
            what: "loading an image",
        })?
        .map_err(DaemonError::from)?;
    drop(upload);
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
    Json(request): Json<ImagePullRequest>,
) -> Result<Json<Vec<LoadedImageView>>, ApiFailure> {
    let runtime = daemon.runtime.clone();
    let pulled = tokio::task::spawn_blocking(move || runtime.images().pull(&request.reference))
        .await
        .map_err(|_| DaemonError::TaskPanicked {
            what: "pulling an image",
        })?
        .map_err(DaemonError::from)?;
    Ok(Json(vec![LoadedImageView {
        name: pulled.image.name.map(|name| name.to_string()),
        id: pulled.image.id.to_string(),
        digest: Some(pulled.image.manifest.to_string()),
        up_to_date: pulled.up_to_date,
        downloaded_blobs: Some(pulled.fetched.len()),
    }]))
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

#[cfg(test)]
mod tests {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Method, Request};
    use hyper_util::rt::TokioIo;
    use tokio::net::{UnixListener, UnixStream};

    use super::*;
    use crate::api::ErrorBody;
    use crate::daemon::core::DaemonOptions;
    use crate::runtime::image::build_busybox_image;
    use crate::runtime::{Runtime, RuntimeConfig};

    /// Sends one request to the API on `socket`: status and body.
    async fn call(socket: &Path, method: Method, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let stream = UnixStream::connect(socket).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "shoal")
            // JSON routes insist on it; the archive route ignores it.
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, bytes.to_vec())
    }

    /// A daemon's API on a socket in `dir`; returns the socket and state dir.
    fn serve(dir: &Path) -> (PathBuf, PathBuf) {
        let state = dir.join("state");
        let runtime = Runtime::open(RuntimeConfig::new(&state)).unwrap();
        let daemon = Daemon::new(
            DaemonOptions {
                state_dir: state.clone(),
                socket: dir.join("api.sock"),
                node_name: "n1".to_owned(),
                dp_node: "n1".to_owned(),
                bpffs: dir.join("bpffs"),
            },
            Arc::new(runtime),
        );
        let socket = dir.join("api.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        tokio::spawn(axum::serve(listener, super::super::http::router(daemon)).into_future());
        (socket, state)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_archive_posted_to_images_load_is_listed_and_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, state) = serve(dir.path());

        let archive = dir.path().join("web.tar");
        build_busybox_image("web:1.0", &[], &["true"], &archive).unwrap();
        let bytes = std::fs::read(&archive).unwrap();
        let (status, body) = call(&socket, Method::POST, "/images/load", bytes).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let loaded: Vec<LoadedImageView> = serde_json::from_slice(&body).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].name.as_deref(), Some("web:1.0"));
        assert!(loaded[0].id.starts_with("sha256:"));

        let (status, body) = call(&socket, Method::GET, "/images", Vec::new()).await;
        assert_eq!(status, 200);
        let images: Vec<ImageView> = serde_json::from_slice(&body).unwrap();
        let rows: Vec<_> = images
            .iter()
            .map(|i| (i.repository.as_str(), i.tag.as_str(), i.id.as_str()))
            .collect();
        assert_eq!(rows, [("web", "1.0", loaded[0].id.as_str())]);
        assert!(images[0].size > 0);

        let (status, body) = call(&socket, Method::POST, "/images/load", b"junk".to_vec()).await;
        assert_eq!(status, 400);
        let error: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert!(!error.message.is_empty());
        let uploads = std::fs::read_dir(state.join("uploads")).unwrap().count();
        assert_eq!(uploads, 0, "an upload was left behind");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pull_from_an_unreachable_registry_is_a_bad_gateway() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, _state) = serve(dir.path());
        let unused = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        for (reference, expected) in [
            (format!("127.0.0.1:{unused}/app:1"), 502),
            ("busybox".to_owned(), 400),
        ] {
            let body = serde_json::to_vec(&ImagePullRequest { reference }).unwrap();
            let (status, body) = call(&socket, Method::POST, "/images/pull", body).await;
            assert_eq!(status, expected, "{}", String::from_utf8_lossy(&body));
            let error: ErrorBody = serde_json::from_slice(&body).unwrap();
            assert!(!error.message.is_empty());
        }
    }
}
