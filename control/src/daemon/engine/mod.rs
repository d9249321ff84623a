//! Docker's Engine API on the daemon socket, so the stock `docker` CLI and
//! SDKs drive shoal: Docker's paths, JSON shapes, headers and error bodies.
//!
//! Docker clients first call `/_ping` (unversioned) to learn the highest
//! API version the server speaks, then prefix every call with the
//! negotiated `/v1.NN`. Unversioned paths other than `/_ping`, `/version`
//! and `/info` belong to shoal's own API (its CLI's shapes), so a request
//! reaches Docker's routes by its version prefix: [`versioned`] strips it
//! (refusing versions outside [`version::MIN`]..=[`version::MAX`] the way
//! Docker does) and hands the rest to [`routes`].
//!
//! - `version`: API versions and the prefix;
//! - `system`: `/_ping`, `/version`, `/info`; `swarm`: `/swarm` and its
//!   operations;
//! - `nodes`, `services`, `tasks`, `networks`, `secrets`, `configs`: those objects in Docker's shapes, read
//!   from the store (`shapes`: what they share; `filters`: Docker's
//!   `filters` query parameter); `remove`: their `DELETE`s;
//! - `create`: networks and secrets from Docker's bodies (`configs` has
//!   its own create, label update and delete); `logs`: a service's logs
//!   as Docker's multiplexed stream;
//! - `images`: `/images/json`, `/images/{name}/json` and `/images/load`
//!   on this node's image store;
//! - `events`: `/events`, swarm object events streamed as the store
//!   applies changes (`event_diff` derives them);
//! - `service_write`: creating and updating services from Docker's spec,
//!   translated by `spec_in` (and shown by `spec_out`, so a read, change
//!   and write back keeps every field).

mod configs;
mod create;
mod event_diff;
mod events;
mod filters;
mod images;
mod logs;
mod networks;
mod nodes;
mod registry_auth;
mod remove;
mod secrets;
mod service_write;
mod services;
mod shapes;
mod spec_in;
#[cfg(test)]
mod spec_in_tests;
mod spec_out;
mod swarm;
mod system;
mod tasks;
mod version;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceExt as _;

use super::core::Daemon;
use crate::api::ErrorBody;

pub(crate) use system::{info, ping, version as version_route};

/// Docker's routes, without the version prefix.
fn routes(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version_route))
        .route("/info", get(info))
        .route("/swarm", get(swarm::inspect))
        .route("/swarm/init", axum::routing::post(swarm::init))
        .route("/swarm/join", axum::routing::post(swarm::join))
        .route("/swarm/leave", axum::routing::post(swarm::leave))
        .route("/swarm/update", axum::routing::post(swarm::update))
        .route("/swarm/unlock", axum::routing::post(swarm::unlock))
        .route("/swarm/unlockkey", get(swarm::unlock_key))
        .route("/nodes", get(nodes::list))
        .route("/nodes/{id}", get(nodes::inspect).delete(remove::node))
        .route("/services", get(services::list))
        .route(
            "/services/create",
            axum::routing::post(service_write::create),
        )
        .route("/services/{id}/logs", get(logs::service))
        .route(
            "/services/{id}/update",
            axum::routing::post(service_write::update),
        )
        .route(
            "/services/{id}",
            get(services::inspect).delete(remove::service),
        )
        .route("/tasks", get(tasks::list))
        .route("/tasks/{id}", get(tasks::inspect))
        .route("/networks", get(networks::list))
        .route("/networks/create", axum::routing::post(create::network))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(remove::network),
        )
        .route("/events", get(events::stream))
        .route("/images/json", get(images::list))
        .route("/images/load", axum::routing::post(images::load))
        .route("/images/{*rest}", get(images::inspect))
        .route("/configs", get(configs::list))
        .route("/configs/create", axum::routing::post(configs::create))
        .route(
            "/configs/{id}",
            get(configs::inspect).delete(configs::remove),
        )
        .route("/configs/{id}/update", axum::routing::post(configs::update))
        .route("/secrets", get(secrets::list))
        .route("/secrets/create", axum::routing::post(create::secret))
        .route(
            "/secrets/{id}",
            get(secrets::inspect).delete(remove::secret),
        )
        .fallback(not_found)
        .with_state(daemon)
}

/// Docker's error answer: `status` and `{"message": ...}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    EngineFailure {
        status,
        message: message.into(),
    }
    .into_response()
}

/// A refusal in Docker's words, answered as [`error`].
pub(crate) struct EngineFailure {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl EngineFailure {
    /// A 404 for the `kind` (`service`, `node`, ...) called `id`, in
    /// Docker's words.
    pub(crate) fn not_found(kind: &str, id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!("{kind} {id} not found"),
        }
    }

    /// A 400 saying `reason`.
    pub(crate) fn bad_request(reason: impl ToString) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: reason.to_string(),
        }
    }

    /// A 400 naming the `field` of a Docker body shoal cannot honour.
    pub(crate) fn unsupported(field: &str) -> Self {
        Self::bad_request(format!("{field} is not supported by shoal"))
    }
}

impl From<super::DaemonError> for EngineFailure {
    /// shoal's refusal with its status and message (Docker's clients word
    /// a 404 as "No such ..." themselves).
    fn from(err: super::DaemonError) -> Self {
        Self {
            status: StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: err.full_message(),
        }
    }
}

impl IntoResponse for EngineFailure {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            message: self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// The store's tables as this manager has them, or Docker's refusal on a
/// node that is not one.
pub(crate) fn store_tables(
    daemon: &Daemon,
) -> Result<crate::manager::ClusterTables, EngineFailure> {
    let (_, manager) = nodes::manager(daemon)?;
    Ok(crate::manager::api::load(&*manager))
}

async fn not_found(uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "page not found: {} is not an API route shoal serves",
            uri.path()
        ),
    )
}

/// Every request no route of shoal's own API took: a `/v1.NN/...` path is
/// Docker's API at that version, anything else is not found.
pub(crate) async fn versioned(State(daemon): State<Arc<Daemon>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let (api_version, rest) = match version::split(parts.uri.path()) {
        Some(Ok(split)) => split,
        Some(Err(refusal)) => return error(StatusCode::BAD_REQUEST, refusal.to_string()),
        None => return not_found(parts.uri).await,
    };
    let rest = match parts.uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    parts.uri = match rest.parse() {
        Ok(uri) => uri,
        Err(_) => return error(StatusCode::BAD_REQUEST, "malformed request path"),
    };
    parts.extensions.insert(api_version);
    match routes(daemon)
        .oneshot(Request::from_parts(parts, body))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
