//! Small shapes every Docker object shares.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Docker's optimistic-concurrency version of an object.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ObjectVersion {
    pub(crate) index: u64,
}

/// Values Docker's CLI sends that mean "the default".
const DEFAULTS: [(&str, &str); 1] = [("Isolation", "default")];

/// Whether field `key` carries no choice: a zero value (`""`, `0`,
/// `false`, `{}`, `[]`, null, an object of such) or a default Docker's
/// CLI always sends (`Isolation: default`). Docker's clients marshal Go
/// structs, so every field shoal does not know arrives, mostly unset.
pub(crate) fn is_unset(key: &str, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || DEFAULTS.contains(&(key, s.as_str())),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.iter().all(|(k, v)| is_unset(k, v)),
    }
}

/// A Docker request body as `T`, or a 400 saying why not.
pub(crate) fn parse_body<T: for<'de> serde::Deserialize<'de>>(
    body: &[u8],
) -> Result<T, super::EngineFailure> {
    serde_json::from_slice(body)
        .map_err(|e| super::EngineFailure::bad_request(format!("invalid request body: {e}")))
}

/// A query flag Docker's clients set (`1`, `true`, `True`).
pub(crate) fn truthy(value: Option<&str>) -> bool {
    matches!(value, Some("1" | "true" | "True"))
}

/// RFC 3339 of a Unix time in milliseconds (Docker's timestamps).
pub(crate) fn rfc3339_millis(millis: u64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// RFC 3339 of a Unix time in seconds.
pub(crate) fn rfc3339_secs(secs: u64) -> String {
    rfc3339_millis(secs.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339_secs(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_millis(1_500), "1970-01-01T00:00:01.5Z");
    }
}
