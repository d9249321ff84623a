//! `DELETE` of services, networks, secrets and nodes (`docker service rm`,
//! `network rm`, `secret rm`, `node rm`): the same operations as shoal's
//! own API, run on the leader, answered with Docker's status codes.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::super::core::Daemon;
use super::super::http_api::api_call;
use super::EngineFailure;
use crate::ctl::ApiOp;

/// `?force=true` (node removal).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Force {
    #[serde(default)]
    force: Option<String>,
}

async fn run(daemon: &Daemon, op: ApiOp, done: StatusCode) -> Result<StatusCode, EngineFailure> {
    api_call(daemon, op).await.map_err(EngineFailure::from)?;
    Ok(done)
}

/// `DELETE /services/{id}`: 200.
pub(crate) async fn service(
    State(daemon): State<Arc<Daemon>>,
    Path(target): Path<String>,
) -> Result<StatusCode, EngineFailure> {
    run(&daemon, ApiOp::RemoveService { target }, StatusCode::OK).await
}

/// `DELETE /networks/{id}`: 204.
pub(crate) async fn network(
    State(daemon): State<Arc<Daemon>>,
    Path(target): Path<String>,
) -> Result<StatusCode, EngineFailure> {
    run(
        &daemon,
        ApiOp::RemoveNetwork { target },
        StatusCode::NO_CONTENT,
    )
    .await
}

/// `DELETE /secrets/{id}`: 204.
pub(crate) async fn secret(
    State(daemon): State<Arc<Daemon>>,
    Path(target): Path<String>,
) -> Result<StatusCode, EngineFailure> {
    run(
        &daemon,
        ApiOp::RemoveSecret { target },
        StatusCode::NO_CONTENT,
    )
    .await
}

/// `DELETE /nodes/{id}[?force=true]`: 200.
pub(crate) async fn node(
    State(daemon): State<Arc<Daemon>>,
    Path(target): Path<String>,
    Query(flags): Query<Force>,
) -> Result<StatusCode, EngineFailure> {
    let force = matches!(flags.force.as_deref(), Some("1" | "true"));
    run(&daemon, ApiOp::RemoveNode { target, force }, StatusCode::OK).await
}
