//! `GET /services/{id}/logs` as Docker answers it (`docker service logs`):
//! a multiplexed stream — an 8-byte header (stream 1 = stdout, 2 =
//! stderr; length, big-endian) before each line — where every line starts
//! with the details Docker's client reads its context from
//! (`com.docker.swarm.node.id=…,com.docker.swarm.service.id=…,com.docker.swarm.task.id=…`).
//! The lines come from the same gathering as shoal's own logs route
//! (`http_logs`), with `follow` and `tail`. shoal's task logs keep neither
//! the stream a line was written to (all are sent as stdout) nor when it
//! was written, so `timestamps` and `since` are refused in words.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse as _, Response};
use serde::Deserialize;

use super::super::core::Daemon;
use super::super::http_logs::{self, Encoding, Source};
use super::EngineFailure;
use super::shapes::truthy;
use crate::api::TaskLogs;

/// Docker's content type for a non-TTY log stream.
const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";
const STDOUT: u8 = 1;
const STDERR: u8 = 2;

/// The query Docker's client sends.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LogsQuery {
    #[serde(default)]
    follow: Option<String>,
    #[serde(default)]
    tail: Option<String>,
    #[serde(default)]
    timestamps: Option<String>,
    #[serde(default)]
    since: Option<String>,
}

impl LogsQuery {
    /// `(follow, tail)`, or the refusal of what shoal cannot honour.
    fn read(&self) -> Result<(bool, Option<usize>), EngineFailure> {
        if truthy(self.timestamps.as_deref()) {
            return Err(EngineFailure::bad_request(
                "timestamps: shoal's task logs do not record when a line was written",
            ));
        }
        if self
            .since
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != "0")
        {
            return Err(EngineFailure::bad_request(
                "since: shoal's task logs do not record when a line was written",
            ));
        }
        let tail = match self.tail.as_deref() {
            None | Some("" | "all") => None,
            Some(n) => Some(n.parse().map_err(|_| {
                EngineFailure::bad_request(format!("invalid value for tail: {n:?}"))
            })?),
        };
        Ok((truthy(self.follow.as_deref()), tail))
    }
}

/// One frame of the multiplexed stream.
fn frame(stream: u8, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
}

/// A chunk of one task's output as frames, one per line, each with the
/// task's details; an error as one stderr line.
fn encode(source: &Source, logs: &TaskLogs) -> Bytes {
    let details = format!(
        "com.docker.swarm.node.id={},com.docker.swarm.service.id={},com.docker.swarm.task.id={}",
        source.node_id, source.service_id, logs.task_id
    );
    let mut out = Vec::new();
    for line in logs.text.split_inclusive('\n') {
        let ended = if line.ends_with('\n') { "" } else { "\n" };
        frame(
            STDOUT,
            format!("{details} {line}{ended}").as_bytes(),
            &mut out,
        );
    }
    if let Some(err) = &logs.error {
        let line = format!("{details} error from {}: {err}\n", logs.node);
        frame(STDERR, line.as_bytes(), &mut out);
    }
    Bytes::from(out)
}

const DOCKER: Encoding = Encoding {
    encode,
    content_type: MULTIPLEXED,
};

/// `GET /services/{id}/logs`.
pub(crate) async fn service(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, EngineFailure> {
    let (follow, tail) = query.read()?;
    let (active, sources) = http_logs::sources(&daemon, &id).map_err(|err| {
        if err.status() == 404 {
            EngineFailure::not_found("service", &id)
        } else {
            EngineFailure::from(err)
        }
    })?;
    if follow {
        return Ok(http_logs::follow(daemon, id, active, sources, tail, DOCKER));
    }
    let mut body = Vec::new();
    for (source, logs) in http_logs::gather(&active, sources, tail).await {
        body.extend_from_slice(&encode(&source, &logs));
    }
    let mut response = Body::from(body).into_response();
    let content_type = axum::http::HeaderValue::from_static(MULTIPLEXED);
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_stream_the_length_and_the_details() {
        let mut out = Vec::new();
        frame(STDOUT, b"hi\n", &mut out);
        assert_eq!(out, [1, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']);
    }

    #[test]
    fn timestamps_and_since_are_refused_tail_all_is_everything() {
        let query = |t: Option<&str>, s: Option<&str>, tail: Option<&str>| LogsQuery {
            follow: Some("1".into()),
            tail: tail.map(Into::into),
            timestamps: t.map(Into::into),
            since: s.map(Into::into),
        };
        assert!(query(Some("1"), None, None).read().is_err());
        assert!(query(None, Some("1700000000"), None).read().is_err());
        assert_eq!(
            query(Some("0"), Some("0"), Some("all")).read().ok(),
            Some((true, None))
        );
        assert_eq!(
            query(None, None, Some("5")).read().ok(),
            Some((true, Some(5)))
        );
        assert!(query(None, None, Some("x")).read().is_err());
    }
}
