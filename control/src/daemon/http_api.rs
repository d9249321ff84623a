//! What the API's routes share: the error answer, the result and state
//! types, and running an operation on the leader.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::DaemonError;
use super::core::Daemon;
use super::leader;
use crate::api::ErrorBody;
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

/// A JSON request body. A body that is not JSON of the expected shape (or
/// comes without the JSON content type) is refused with 400 and
/// `{"message": ...}` like every other refusal; axum's own extractor
/// would answer 415 or 422 in plain text.
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiFailure;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(body)) => Ok(ApiJson(body)),
            Err(rejection) => Err(ApiFailure(DaemonError::BadRequestBody {
                reason: rejection.body_text(),
            })),
        }
    }
}

/// What a route answers.
pub(super) type ApiResult<T> = Result<Json<T>, ApiFailure>;
/// The daemon, as routes get it.
pub(super) type Shared = State<Arc<Daemon>>;

/// Runs `op` on the leader (from a manager).
pub(crate) async fn api_call(daemon: &Daemon, op: ApiOp) -> Result<Value, DaemonError> {
    let (active, _) = daemon.manager()?;
    leader::submit(&active, LeaderCall::Api(op)).await
}

/// Decodes the leader's reply.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, DaemonError> {
    serde_json::from_value(value).map_err(DaemonError::codec("leader reply"))
}
