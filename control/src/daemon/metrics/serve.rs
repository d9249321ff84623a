//! The metrics listener: `GET /metrics` on `--metrics-addr`, plain HTTP
//! like Docker's `metrics-addr` (bind it to an address only the
//! monitoring network reaches; it carries no secrets, only counts).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::super::core::Daemon;
use super::super::error::DaemonError;
use super::{encode::encode, snapshot};

/// The media type of the text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds `addr` (a bind failure is the daemon's start-up error) and
/// serves metrics until the returned task is aborted.
pub(crate) async fn serve(
    daemon: Arc<Daemon>,
    addr: SocketAddr,
) -> Result<tokio::task::JoinHandle<()>, DaemonError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::MetricsBind { addr, source })?;
    log::info!("metrics on http://{addr}/metrics");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(daemon);
    Ok(tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            log::error!("metrics listener on {addr} stopped: {err}");
        }
    }))
}

async fn metrics(State(daemon): State<Arc<Daemon>>) -> Response {
    // Reading the pinned maps and the store is blocking work.
    let text = tokio::task::spawn_blocking(move || encode(&snapshot::take(&daemon))).await;
    match text {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
