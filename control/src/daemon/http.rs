//! The REST/JSON API on the Unix socket (Docker Engine API style).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::core::{Active, Daemon, Manager};
use super::{DaemonError, boot, leader, swarm, views};
use crate::api::{
    ErrorBody, InitRequest, InitResponse, JoinRequest, JoinResponse, JoinTokenResponse, NodeView,
    SwarmInfo, UnlockKeyResponse, UnlockRequest,
};
use crate::cluster::{NodeRole, NodeUpdate, resolve_node};
use crate::ctl::{ApiOp, LeaderCall};

/// An error as the API answers it: its status and `{"message": ...}`.
pub(crate) struct ApiFailure(DaemonError);

impl From<DaemonError> for ApiFailure {
    fn from(err: DaemonError) -> Self {
        Self(err)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = self.0.full_message();
        if status.is_server_error() {
            log::warn!("API error: {message}");
        }
        (status, Json(ErrorBody { message })).into_response()
    }
}

/// What a route answers.
pub(super) type ApiResult<T> = Result<Json<T>, ApiFailure>;
/// The daemon, as routes get it.
pub(super) type Shared = State<Arc<Daemon>>;

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
        .route("/nodes", get(node_list))
        .route("/nodes/{id}", get(node_inspect).delete(node_remove))
        .route("/nodes/{id}/update", post(node_update))
        .route("/nodes/{id}/promote", post(node_promote))
        .route("/nodes/{id}/demote", post(node_demote))
        .merge(super::http_services::routes())
        .merge(super::http_images::routes())
        .with_state(daemon)
}

async fn swarm_info(State(daemon): Shared) -> Json<SwarmInfo> {
    Json(views::swarm_info(&daemon))
}

async fn swarm_init(
    State(daemon): Shared,
    Json(body): Json<InitRequest>,
) -> ApiResult<InitResponse> {
    Ok(Json(swarm::init(&daemon, body).await?))
}

async fn swarm_join(
    State(daemon): Shared,
    Json(body): Json<JoinRequest>,
) -> ApiResult<JoinResponse> {
    Ok(Json(swarm::join(&daemon, body).await?))
}

async fn swarm_leave(State(daemon): Shared, Query(flags): Query<Flags>) -> ApiResult<Value> {
    swarm::leave(&daemon, flag(&flags.force)).await?;
    Ok(Json(json!({})))
}

async fn swarm_unlock(State(daemon): Shared, Json(body): Json<UnlockRequest>) -> ApiResult<Value> {
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

/// Runs `op` on the leader (from a manager).
pub(super) async fn api_call(daemon: &Daemon, op: ApiOp) -> Result<Value, DaemonError> {
    let (active, _) = daemon.manager()?;
    leader::submit(&active, LeaderCall::Api(op)).await
}

/// Decodes the leader's reply.
pub(super) fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, DaemonError> {
    serde_json::from_value(value).map_err(DaemonError::codec("leader reply"))
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
    Json(update): Json<NodeUpdate>,
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
