//! Small shapes every Docker object shares.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Docker's optimistic-concurrency version of an object.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ObjectVersion {
    pub(crate) index: u64,
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
