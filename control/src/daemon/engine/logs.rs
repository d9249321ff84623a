//! `GET /services/{id}/logs` as Docker answers it (`docker service logs`):
//! a multiplexed stream — an 8-byte header (stream 1 = stdout, 2 =
//! stderr; length, big-endian) before each line — where every line starts
//! with the details Docker's client reads its context from
//! (`com.docker.swarm.node.id=…,com.docker.swarm.service.id=…,com.docker.swarm.task.id=…`).
//! The lines come from the same gathering as shoal's own logs route
//! (`http_logs`), with `follow`, `tail`, `timestamps` and `since`; each line
//! goes out on the stream the task wrote it to (a line from before the
//! node had log shims has no stream or time recorded: it is sent as
//! stdout).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse as _, Response};
use serde::Deserialize;

use super::super::core::Daemon;
use super::super::http_logs::{self, Encoding, Source};
use super::super::log_view::LogView;
use super::EngineFailure;
use super::shapes::truthy;
use crate::api::TaskLogs;
use crate::runtime::log_line::Stream;

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
    /// `(follow, tail, view)`, or the refusal of what is malformed.
    fn read(&self) -> Result<(bool, Option<usize>, LogView), EngineFailure> {
        let view = LogView::new(truthy(self.timestamps.as_deref()), self.since.as_deref())
            .map_err(|err| EngineFailure::bad_request(err.to_string()))?;
        let tail = match self.tail.as_deref() {
            None | Some("" | "all") => None,
            Some(n) => Some(n.parse().map_err(|_| {
                EngineFailure::bad_request(format!("invalid value for tail: {n:?}"))
            })?),
        };
        Ok((truthy(self.follow.as_deref()), tail, view))
    }
}

/// One frame of the multiplexed stream.
fn frame(stream: u8, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
}

/// A chunk of one task's output as frames, one per line on its stream,
/// each with the task's details (after the time with `timestamps`, where
/// Docker's client looks for them); an error as one stderr line.
fn encode(source: &Source, logs: &TaskLogs, view: &LogView) -> Bytes {
    let details = format!(
        "com.docker.swarm.node.id={},com.docker.swarm.service.id={},com.docker.swarm.task.id={}",
        source.node_id, source.service_id, logs.task_id
    );
    let mut out = Vec::new();
    for line in view.lines(&logs.text) {
        let stream = match line.stream {
            Stream::Stdout => STDOUT,
            Stream::Stderr => STDERR,
        };
        let payload = match line.text.split_once(' ') {
            Some((time, rest)) if view.timestamps() => format!("{time} {details} {rest}"),
            _ => format!("{details} {}", line.text),
        };
        frame(stream, payload.as_bytes(), &mut out);
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
    let (follow, tail, view) = query.read()?;
    let (active, sources) = http_logs::sources(&daemon, &id).map_err(|err| {
        if err.status() == 404 {
            EngineFailure::not_found("service", &id)
        } else {
            EngineFailure::from(err)
        }
    })?;
    if follow {
        return Ok(http_logs::follow(
            daemon, id, active, sources, tail, view, DOCKER,
        ));
    }
    let mut body = Vec::new();
    for (source, logs) in http_logs::gather(&active, sources, tail).await {
        body.extend_from_slice(&encode(&source, &logs, &view));
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
    fn a_malformed_since_or_tail_is_refused_tail_all_is_everything() {
        let query = |t: Option<&str>, s: Option<&str>, tail: Option<&str>| LogsQuery {
            follow: Some("1".into()),
            tail: tail.map(Into::into),
            timestamps: t.map(Into::into),
            since: s.map(Into::into),
        };
        assert!(query(None, Some("10m"), None).read().is_err());
        let (follow, tail, _) = query(Some("0"), Some("0"), Some("all"))
            .read()
            .ok()
            .unwrap();
        assert_eq!((follow, tail), (true, None));
        let (_, tail, view) = query(Some("1"), Some("1700000000"), Some("5"))
            .read()
            .ok()
            .unwrap();
        assert_eq!(tail, Some(5));
        assert!(view.timestamps());
        assert!(query(None, None, Some("x")).read().is_err());
    }

    #[test]
    fn each_line_goes_out_on_its_stream_with_the_time_before_the_details() {
        let mut text = Vec::new();
        let time = crate::runtime::log_line::stamp(1_796_673_600_000_000_000);
        crate::runtime::log_line::write(&mut text, &time, Stream::Stdout, false, b"up");
        crate::runtime::log_line::write(&mut text, &time, Stream::Stderr, false, b"oops");
        let source = Source::for_test("n1", "s1");
        let logs = TaskLogs {
            task_id: "t1".into(),
            name: "web.1".into(),
            node: "node-1".into(),
            text: String::from_utf8(text).unwrap(),
            error: None,
        };
        let view = LogView::new(true, None).unwrap();
        let out = encode(&source, &logs, &view);
        let details = "com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1";
        let mut expected = Vec::new();
        frame(
            STDOUT,
            format!("{time} {details} up\n").as_bytes(),
            &mut expected,
        );
        frame(
            STDERR,
            format!("{time} {details} oops\n").as_bytes(),
            &mut expected,
        );
        assert_eq!(out.as_ref(), expected.as_slice());
    }
}
