//! The REST/JSON API on the Unix socket (Docker Engine API style).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::core::{Active, Daemon, Manager};
use super::http_api::{ApiJson, ApiResult, Shared, api_call, decode};
use super::{DaemonError, boot, engine, leader, swarm, views};
use crate::api::{
    InitRequest, InitResponse, JoinRequest, JoinResponse, JoinTokenResponse, NodeView, SwarmInfo,
    UnlockKeyResponse, UnlockRequest,
};
use crate::cluster::{NodeRole, NodeUpdate, resolve_node};
use crate::ctl::ApiOp;

/// Query flags (`?force=true`, `?rotate=1`, `?consistent=1`).
#[derive(Debug, Default, Deserialize)]
struct Flags {
    #[serde(default)]
    force: Option<String>,
    #[serde(default)]
    rotate: Option<String>,
    /// On reads: answer only what a quorum confirms is current
    /// (linearizable), instead of this manager's possibly lagging view.
    #[serde(default)]
    consistent: Option<String>,
}

fn flag(value: &Option<String>) -> bool {
    matches!(value.as_deref(), Some("1" | "true" | "yes"))
}

/// The manager to read from; with `?consistent=1`, after a read barrier
/// (see [`leader::read_barrier`]), so the read sees every write
/// acknowledged before it started.
async fn reader(
    daemon: &Daemon,
    flags: &Flags,
) -> Result<(Arc<Active>, Arc<Manager>), DaemonError> {
    let (active, manager) = daemon.manager()?;
    if flag(&flags.consistent) {
        leader::read_barrier(&active).await?;
    }
    Ok((active, manager))
}

/// The API's routes.
pub(crate) fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/swarm", get(swarm_info))
        .route("/swarm/init", post(swarm_init))
        .route("/swarm/join", post(swarm_join))
        .route("/swarm/leave", post(swarm_leave))
        .route("/swarm/join-token/{role}", get(join_token))
        .route("/swarm/unlock", post(swarm_unlock))
        .route("/swarm/unlockkey", get(unlock_key))
        .route("/swarm/update", post(swarm_update))
        .route("/nodes", get(node_list))
        .route("/nodes/{id}", get(node_inspect).delete(node_remove))
        .route("/nodes/{id}/update", post(node_update))
        .route("/nodes/{id}/promote", post(node_promote))
        .route("/nodes/{id}/demote", post(node_demote))
        .merge(super::http_services::routes())
        .merge(super::http_configs::routes())
        .merge(super::http_images::routes())
        .merge(super::http_registry::routes())
        .merge(super::http_logs::routes())
        .merge(super::http_volumes::routes())
        .route("/_ping", get(engine::ping).head(engine::ping))
        .route("/version", get(engine::version_route))
        .route("/info", get(engine::info))
        .fallback(engine::versioned)
        .with_state(daemon)
}

async fn swarm_info(State(daemon): Shared) -> Json<SwarmInfo> {
    Json(views::swarm_info(&daemon))
}

async fn swarm_init(
    State(daemon): Shared,
    ApiJson(body): ApiJson<InitRequest>,
) -> ApiResult<InitResponse> {
    Ok(Json(swarm::init(&daemon, body).await?))
}

async fn swarm_join(
    State(daemon): Shared,
    ApiJson(body): ApiJson<JoinRequest>,
) -> ApiResult<JoinResponse> {
    Ok(Json(swarm::join(&daemon, body).await?))
}

async fn swarm_leave(State(daemon): Shared, Query(flags): Query<Flags>) -> ApiResult<Value> {
    swarm::leave(&daemon, flag(&flags.force)).await?;
    Ok(Json(json!({})))
}

async fn swarm_update(
    State(daemon): Shared,
    ApiJson(body): ApiJson<crate::api::SwarmUpdateRequest>,
) -> ApiResult<UnlockKeyResponse> {
    let op = ApiOp::UpdateSwarm {
        autolock: body.autolock,
        cert_expiry_secs: body.cert_expiry_secs,
        key_rotation_secs: body.key_rotation_secs,
        heartbeat_period_ms: body.heartbeat_period_ms,
    };
    Ok(Json(decode(api_call(&daemon, op).await?)?))
}

async fn swarm_unlock(
    State(daemon): Shared,
    ApiJson(body): ApiJson<UnlockRequest>,
) -> ApiResult<Value> {
    boot::unlock(&daemon, &body.key).await?;
    Ok(Json(json!({})))
}

fn parse_role(role: &str) -> Result<NodeRole, DaemonError> {
    match role {
        "worker" => Ok(NodeRole::Worker),
        "manager" => Ok(NodeRole::Manager),
        other => Err(DaemonError::BadRole {
            role: other.to_owned(),
        }),
    }
}

async fn join_token(
    State(daemon): Shared,
    Path(role): Path<String>,
    Query(flags): Query<Flags>,
) -> ApiResult<JoinTokenResponse> {
    let role = parse_role(&role)?;
    if flag(&flags.rotate) {
        let (active, _) = daemon.manager()?;
        let mut rotated: JoinTokenResponse =
            decode(api_call(&daemon, ApiOp::RotateToken { role }).await?)?;
        rotated.manager_addr = active.node_state().advertise_addr;
        return Ok(Json(rotated));
    }
    let (active, manager) = reader(&daemon, &flags).await?;
    Ok(Json(views::join_token(&active, &manager.cluster()?, role)?))
}

async fn unlock_key(
    State(daemon): Shared,
    Query(flags): Query<Flags>,
) -> ApiResult<UnlockKeyResponse> {
    if flag(&flags.rotate) {
        return Ok(Json(decode(
            api_call(&daemon, ApiOp::RotateUnlockKey).await?,
        )?));
    }
    let (_, manager) = reader(&daemon, &flags).await?;
    let cluster = manager.cluster()?;
    if !cluster.autolock {
        return Err(DaemonError::AutolockOff.into());
    }
    Ok(Json(UnlockKeyResponse {
        key: cluster.unlock_key,
    }))
}

async fn node_list(State(daemon): Shared, Query(flags): Query<Flags>) -> ApiResult<Vec<NodeView>> {
    let (active, manager) = reader(&daemon, &flags).await?;
    let views = manager
        .nodes()
        .into_values()
        .map(|record| views::node_view(&active, &manager, record))
        .collect();
    Ok(Json(views))
}

async fn node_inspect(
    State(daemon): Shared,
    Path(id): Path<String>,
    Query(flags): Query<Flags>,
) -> ApiResult<NodeView> {
    let (active, manager) = reader(&daemon, &flags).await?;
    let nodes = manager.nodes();
    let record = resolve_node(&nodes, &id)
        .map_err(DaemonError::from)?
        .clone();
    Ok(Json(views::node_view(&active, &manager, record)))
}

async fn node_update(
    State(daemon): Shared,
    Path(target): Path<String>,
    ApiJson(update): ApiJson<NodeUpdate>,
) -> ApiResult<NodeView> {
    Ok(Json(decode(
        api_call(&daemon, ApiOp::UpdateNode { target, update }).await?,
    )?))
}

async fn node_remove(
    State(daemon): Shared,
    Path(target): Path<String>,
    Query(flags): Query<Flags>,
) -> ApiResult<Value> {
    let force = flag(&flags.force);
    api_call(&daemon, ApiOp::RemoveNode { target, force }).await?;
    Ok(Json(json!({})))
}

async fn node_promote(State(daemon): Shared, Path(target): Path<String>) -> ApiResult<Value> {
    api_call(&daemon, ApiOp::Promote { target }).await?;
    Ok(Json(json!({})))
}

async fn node_demote(State(daemon): Shared, Path(target): Path<String>) -> ApiResult<Value> {
    api_call(&daemon, ApiOp::Demote { target }).await?;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Method, Request};
    use hyper_util::rt::TokioIo;
    use tokio::net::{UnixListener, UnixStream};

    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use http_body_util::BodyExt as _;

    use super::router;
    use crate::api::ErrorBody;
    use crate::api::{
        ImagePullRequest, ImageView, LoadedImageView, RegistryLoginRequest, RegistryLogoutRequest,
    };
    use crate::daemon::core::Daemon;
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
                metrics_addr: None,
                insecure_registries: Default::default(),
                dns_upstreams: Vec::new(),
                image_gc_grace: None,
                xdp_fast_path: false,
            },
            Arc::new(runtime),
        );
        let socket = dir.join("api.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        tokio::spawn(axum::serve(listener, router(daemon)).into_future());
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

    /// A registry on loopback (plain http) that wants `alice:pw` over
    /// Basic auth for everything; with it, every path answers `{}`.
    fn basic_auth_registry() -> u16 {
        use base64::Engine as _;
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let good = base64::engine::general_purpose::STANDARD.encode("alice:pw");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut request = [0u8; 4096];
                let n = stream.read(&mut request).unwrap_or(0);
                let text = String::from_utf8_lossy(&request[..n]);
                let response = if !text.starts_with("GET ") {
                    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_owned()
                } else if text.contains(&format!("Basic {good}")) {
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_owned()
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Basic realm=\"r\"\r\n\
                     Content-Length: 0\r\n\r\n"
                        .to_owned()
                };
                let _ = stream.write_all(response.as_bytes());
            }
        });
        port
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_login_is_checked_stored_private_used_by_pulls_and_forgotten() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (socket, state) = serve(dir.path());
        let registry = format!("127.0.0.1:{}", basic_auth_registry());
        let login = |password: &str| {
            serde_json::to_vec(&RegistryLoginRequest {
                registry: registry.clone(),
                username: "alice".to_owned(),
                password: password.to_owned(),
            })
            .unwrap()
        };
        let pull = serde_json::to_vec(&ImagePullRequest {
            reference: format!("{registry}/app:1"),
        })
        .unwrap();
        let (_, body) = call(&socket, Method::POST, "/images/pull", pull.clone()).await;
        let text = String::from_utf8_lossy(&body).into_owned();
        assert!(text.contains("shoal login"), "no login yet: {text}");

        let (status, body) = call(&socket, Method::POST, "/registry/login", login("bad")).await;
        assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
        let auth_file = state.join("registry-auth.json");
        assert!(!auth_file.exists(), "a refused login is not stored");

        let (status, body) = call(&socket, Method::POST, "/registry/login", login("pw")).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let mode = std::fs::metadata(&auth_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // With the stored login the registry answers the pull (with a
        // manifest shoal refuses: `{}` here), not with a 401.
        let (_, body) = call(&socket, Method::POST, "/images/pull", pull.clone()).await;
        let text = String::from_utf8_lossy(&body).into_owned();
        assert!(!text.contains("requires authentication"), "{text}");

        let logout = serde_json::to_vec(&RegistryLogoutRequest {
            registry: registry.clone(),
        })
        .unwrap();
        let (status, _) = call(&socket, Method::POST, "/registry/logout", logout).await;
        assert_eq!(status, 200);
        let (_, body) = call(&socket, Method::POST, "/images/pull", pull).await;
        let text = String::from_utf8_lossy(&body).into_owned();
        assert!(text.contains("shoal login"), "logged out: {text}");
    }

    /// Routes that decode a JSON body, each with a valid body to mutate.
    const JSON_ROUTES: &[(&str, &str)] = &[
        (
            "/swarm/init",
            r#"{"listen_addr":"0.0.0.0:2377","advertise_addr":"198.18.0.11"}"#,
        ),
        (
            "/swarm/join",
            r#"{"token":"SWMTKN-1-x-y","remote_addrs":["198.18.0.11:2377"]}"#,
        ),
        ("/swarm/unlock", r#"{"key":"SWMKEY-1-abc"}"#),
        ("/nodes/n1/update", r#"{"availability":"drain"}"#),
        (
            "/services/create",
            r#"{"name":"web","image":"web:1","mode":{"replicated":{"replicas":2}}}"#,
        ),
        (
            "/services/web/update",
            r#"{"spec":{"name":"web","image":"web:2","mode":"global"}}"#,
        ),
        ("/networks/create", r#"{"name":"front","driver":"overlay"}"#),
        ("/secrets/create", r#"{"name":"key","data":"aGk="}"#),
        ("/images/pull", r#"{"reference":"127.0.0.1:1/app:1"}"#),
        (
            "/registry/login",
            r#"{"registry":"127.0.0.1:1","username":"u","password":"p"}"#,
        ),
        ("/registry/logout", r#"{"registry":"127.0.0.1:1"}"#),
    ];

    /// A body for fuzzing: noise, a mutated valid body, or JSON of another shape.
    fn fuzz_body(rng: &mut impl rand::Rng, valid: &str) -> Vec<u8> {
        match rng.random_range(0..5) {
            0 => (0..rng.random_range(0..64)).map(|_| rng.random()).collect(),
            1 => {
                let mut body = valid.as_bytes().to_vec();
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..body.len());
                    body[at] = *b"{}[]\",:0x\""
                        .get(rng.random_range(0..11))
                        .unwrap_or(&b'x');
                }
                body
            }
            2 => valid.as_bytes()[..rng.random_range(0..valid.len())].to_vec(),
            3 => [
                "null",
                "[]",
                "42",
                "\"text\"",
                "{\"name\":[[[[[]]]]]}",
                "{}",
            ][rng.random_range(0..6)]
            .as_bytes()
            .to_vec(),
            _ => format!("[{}]", "[".repeat(600)).into_bytes(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn malformed_request_bodies_get_a_clear_400_and_nothing_panics() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, _state) = serve(dir.path());
        let mut rng = rand::rng();
        for (route, valid) in JSON_ROUTES {
            for _ in 0..40 {
                let body = fuzz_body(&mut rng, valid);
                let (status, answer) = call(&socket, Method::POST, route, body.clone()).await;
                let text = String::from_utf8_lossy(&answer);
                let what = format!(
                    "{route} with {:?}: {status} {text}",
                    String::from_utf8_lossy(&body)
                );
                assert_ne!(status, 500, "{what}");
                let error: Result<ErrorBody, _> = serde_json::from_slice(&answer);
                assert!(
                    (200..300).contains(&status) || error.is_ok_and(|e| !e.message.is_empty()),
                    "an error without Docker's {{\"message\": ...}} body: {what}"
                );
                let decodes = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
                if !decodes {
                    assert_eq!(status, 400, "not JSON at all: {what}");
                }
            }
        }
    }
}
