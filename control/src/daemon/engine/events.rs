//! `GET /events` (`docker events`): swarm object events as a stream of
//! JSON lines, derived from the changes this manager's store applies
//! ([`super::event_diff`]). The stream starts at the request: shoal keeps
//! no event history, so a `since` before now is refused rather than
//! answered with no replay; `until` ends the stream at that time.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse as _, Response};
use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};

use super::super::core::Daemon;
use super::super::core::Manager;
use super::super::http_logs::ChannelBody;
use super::event_diff::{Event, Known};
use super::filters::{FilterQuery, Filters};
use super::{EngineFailure, nodes};

/// Events waiting for a slow client before the stream stops reading.
const EVENT_BUFFER: usize = 256;
/// How far in the past a `since` may be and still mean "from now" (the
/// client's clock read a moment before the request).
const SINCE_SLACK: Duration = Duration::from_secs(2);
/// The filters shoal's events can be selected by.
const KNOWN_FILTERS: [&str; 8] = [
    "type", "event", "scope", "service", "node", "network", "secret", "config",
];
/// The object filters: an event passes one if its object's ID or name
/// matches (Docker's fuzzy match: a prefix of either).
const OBJECT_FILTERS: [&str; 5] = ["service", "node", "network", "secret", "config"];

/// `since` and `until`: Unix times, `SECONDS[.NANOSECONDS]` as Docker's
/// clients send them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TimeQuery {
    since: Option<String>,
    until: Option<String>,
}

/// Why an events request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum EventsError {
    /// A time that is not `SECONDS[.NANOSECONDS]`.
    #[error("{field}: invalid timestamp {value:?} (expected SECONDS[.NANOSECONDS])")]
    BadTime {
        /// `since` or `until`.
        field: &'static str,
        /// What was sent.
        value: String,
    },
    /// A `since` in the past: there is nothing to replay from.
    #[error("since: shoal keeps no event history; events stream from the request on")]
    NoHistory,
    /// A filter shoal's events cannot be selected by.
    #[error("filter '{name}' is not supported by shoal (swarm events only: {})", KNOWN_FILTERS.join(", "))]
    UnknownFilter {
        /// The filter.
        name: String,
    },
}

/// A Docker timestamp as time since the epoch.
fn parse_time(field: &'static str, value: &str) -> Result<Duration, EventsError> {
    let bad = || EventsError::BadTime {
        field,
        value: value.to_owned(),
    };
    let (secs, fraction) = value.split_once('.').unwrap_or((value, ""));
    let secs: u64 = secs.parse().map_err(|_| bad())?;
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let nanos: u32 = format!("{fraction:0<9}").parse().map_err(|_| bad())?;
    Ok(Duration::new(secs, nanos))
}

/// The stream's end (`until`), after checking `since` against `now`.
fn window(times: &TimeQuery, now: Duration) -> Result<Option<Duration>, EventsError> {
    if let Some(since) = &times.since
        && parse_time("since", since)? + SINCE_SLACK < now
    {
        return Err(EventsError::NoHistory);
    }
    times
        .until
        .as_deref()
        .map(|until| parse_time("until", until))
        .transpose()
}

/// Whether `event` passes `filters` (Docker's rules: every filter given
/// must pass).
pub(crate) fn passes(filters: &Filters, event: &Event) -> bool {
    let object_ok = OBJECT_FILTERS.iter().all(|name| {
        !filters.has(name)
            || (*name == event.kind
                && (filters.accepts_prefix(name, &event.id)
                    || filters.accepts_prefix(name, &event.name)))
    });
    object_ok
        && filters.accepts("type", [event.kind])
        && filters.accepts("event", [event.action])
        && filters.accepts("scope", ["swarm"])
}

/// One event as Docker's JSON line.
fn line(event: &Event, at: Duration) -> Bytes {
    let message = json!({
        "Type": event.kind,
        "Action": event.action,
        "Actor": {"ID": event.id, "Attributes": {"name": event.name}},
        "scope": "swarm",
        "time": at.as_secs(),
        "timeNano": at.as_nanos() as u64,
    });
    Bytes::from(format!("{message}\n"))
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// `GET /events`: the stream, until `until` or the client leaves.
pub(crate) async fn stream(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<FilterQuery>,
    Query(times): Query<TimeQuery>,
) -> Result<Response, EngineFailure> {
    let filters = query.parse().map_err(EngineFailure::bad_request)?;
    if let Some(name) = filters.unknown(&KNOWN_FILTERS) {
        return Err(EngineFailure::bad_request(EventsError::UnknownFilter {
            name,
        }));
    }
    let until = window(&times, since_epoch()).map_err(EngineFailure::bad_request)?;
    let (_, manager) = nodes::manager(&daemon)?;
    let (tx, rx) = mpsc::channel(EVENT_BUFFER);
    tokio::spawn(feed(manager, filters, until, tx));
    let mut response = Body::new(ChannelBody(rx)).into_response();
    let content_type = axum::http::HeaderValue::from_static("application/json");
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    Ok(response)
}

/// Sends the events that pass `filters` as the store applies changes,
/// until `until`, the client leaving, or the manager stopping.
async fn feed(
    manager: Arc<Manager>,
    filters: Filters,
    until: Option<Duration>,
    tx: mpsc::Sender<Bytes>,
) {
    let (snapshot, mut changes) = manager.store().snapshot_and_watch();
    let mut known = Known::from_tables(&snapshot.tables);
    let end = until.map(|until| until.saturating_sub(since_epoch()));
    let deadline =
        tokio::time::Instant::now() + end.unwrap_or(Duration::from_secs(u32::MAX.into()));
    loop {
        let events = tokio::select! {
            () = tx.closed() => return,
            () = tokio::time::sleep_until(deadline) => return,
            applied = changes.recv() => match applied {
                Ok(applied) => applied.changes.iter().filter_map(|c| known.apply(c)).collect(),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let (snapshot, fresh) = manager.store().snapshot_and_watch();
                    changes = fresh;
                    known.catch_up(&snapshot.tables)
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        let at = since_epoch();
        for event in events.iter().filter(|e| passes(&filters, e)) {
            if tx.send(line(event, at)).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
