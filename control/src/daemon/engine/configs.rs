//! `/configs`: shoal has no configs yet (issue: configs mounted at their
//! target path). Listing answers that there are none, so clients that
//! list them on the way (`docker stack rm`, `docker config ls`) work;
//! creating one is refused in words, not with a bare 404.

use axum::Json;
use axum::http::StatusCode;
use serde_json::Value;

use super::EngineFailure;

/// `GET /configs`: none.
pub(crate) async fn list() -> Json<Vec<Value>> {
    Json(Vec::new())
}

/// `POST /configs/create`: refused.
pub(crate) async fn create() -> EngineFailure {
    EngineFailure {
        status: StatusCode::NOT_IMPLEMENTED,
        message: "configs are not supported by shoal yet (secrets are)".to_owned(),
    }
}
