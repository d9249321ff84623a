//! `GET /services/{id}/logs?tail=N[&follow=true][&timestamps=true][&since=T]`:
//! a service's task output ([`LogView`] shows it), gathered by this manager from the node of every task over the
//! control RPC ([`CtlRequest::TaskLogs`]). Without `follow` the answer is
//! one JSON list. With it the answer is streamed (chunked, one JSON
//! [`TaskLogs`] per line): first each task's last lines, then what its
//! node reads after the cursor it answered, polled every
//! [`FOLLOW_POLL`] in chunks of at most `MAX_LOG_CHUNK` bytes of whole
//! lines, until the client goes away; tasks placed later are picked up
//! (every `FOLLOW_RESCAN`) from their first line. Memory stays bounded: a
//! full channel makes the pollers wait for the client to read.

use std::collections::HashSet;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper::body::{Bytes, Frame};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::DaemonError;
use super::core::{Active, Daemon};
use super::http_api::{ApiFailure, Shared};
use super::log_view::LogView;
use crate::api::TaskLogs;
use crate::ctl::{CtlRequest, LogCursor, MAX_LOG_CHUNK, TaskLogsAnswer};
use crate::manager::{self, api, views};

/// How long one node may take to send a task's logs.
const LOGS_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a follower asks a task's node for new lines.
pub const FOLLOW_POLL: Duration = Duration::from_millis(300);
/// How often a follower looks for tasks placed after it started.
const FOLLOW_RESCAN: Duration = Duration::from_secs(2);
/// Chunks waiting for a slow client before the pollers wait too.
const FOLLOW_BUFFER: usize = 16;

/// The route, to merge into the API router.
pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new().route("/services/{id}/logs", get(service_logs))
}

/// `?tail=N&follow=true&timestamps=true&since=SECONDS`.
#[derive(Debug, Default, Deserialize)]
struct LogsQuery {
    #[serde(default)]
    tail: Option<usize>,
    #[serde(default)]
    follow: bool,
    #[serde(default)]
    timestamps: bool,
    #[serde(default)]
    since: Option<String>,
}

/// One task to read: its logs (text empty), its node and its service.
#[derive(Clone)]
pub(crate) struct Source {
    pub(crate) logs: TaskLogs,
    addr: String,
    pub(crate) node_id: String,
    pub(crate) service_id: String,
}

#[cfg(test)]
impl Source {
    /// A task on node `node_id` of service `service_id`.
    pub(crate) fn for_test(node_id: &str, service_id: &str) -> Self {
        Self {
            logs: TaskLogs {
                task_id: String::new(),
                name: String::new(),
                node: String::new(),
                text: String::new(),
                error: None,
            },
            addr: String::new(),
            node_id: node_id.to_owned(),
            service_id: service_id.to_owned(),
        }
    }
}

/// How a streamed answer is written: one chunk of a task's output (or its
/// error) as bytes, and the content type they make.
#[derive(Clone, Copy)]
pub(crate) struct Encoding {
    /// One chunk (its text as the node read it: log records).
    pub(crate) encode: fn(&Source, &TaskLogs, &LogView) -> Bytes,
    /// The response's `Content-Type`.
    pub(crate) content_type: &'static str,
}

/// shoal's own: one JSON [`TaskLogs`] per line.
const NDJSON: Encoding = Encoding {
    encode: |_, logs, view| ndjson_line(logs, view),
    content_type: "application/x-ndjson",
};

/// The service's placed tasks (history included), in `service ps` order.
pub(crate) fn sources(
    daemon: &Daemon,
    id: &str,
) -> Result<(Arc<Active>, Vec<Source>), DaemonError> {
    let (active, manager) = daemon.manager()?;
    let tables = api::load(&*manager);
    let service = manager::resolve(&tables.services, id, "service", |s| &s.spec.name)?;
    let tasks = views::task_views(&tables, Some(&service.id))?;
    let sources = tasks
        .into_iter()
        .filter_map(|view| {
            let node = view
                .task
                .node_id
                .as_ref()
                .and_then(|n| tables.nodes.get(n))?;
            Some(Source {
                logs: TaskLogs {
                    task_id: view.task.id.clone(),
                    name: view.name.clone(),
                    node: node.hostname.clone(),
                    text: String::new(),
                    error: None,
                },
                addr: node.addr.clone(),
                node_id: node.id.clone(),
                service_id: view.task.service_id.clone(),
            })
        })
        .collect();
    Ok((active, sources))
}

/// Asks every node running (or having run) a task of the service for its
/// output, all at once; a node that cannot answer gives the task an error.
async fn service_logs(
    State(daemon): Shared,
    Path(id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, ApiFailure> {
    let view = LogView::new(query.timestamps, query.since.as_deref()).map_err(DaemonError::from)?;
    let (active, sources) = sources(&daemon, &id)?;
    if query.follow {
        let tail = query.tail;
        return Ok(follow(daemon, id, active, sources, tail, view, NDJSON));
    }
    let all: Vec<TaskLogs> = gather(&active, sources, query.tail)
        .await
        .into_iter()
        .map(|(_, logs)| TaskLogs {
            text: view.render(&logs.text),
            ..logs
        })
        .collect();
    Ok(Json(all).into_response())
}

/// Every task's last `tail` lines (all when unset), asked of their nodes
/// all at once, in `sources` order; a node that cannot answer gives the
/// task an error.
pub(crate) async fn gather(
    active: &Arc<Active>,
    sources: Vec<Source>,
    tail: Option<usize>,
) -> Vec<(Source, TaskLogs)> {
    let mut calls = tokio::task::JoinSet::new();
    for (order, source) in sources.into_iter().enumerate() {
        let active = active.clone();
        calls.spawn(async move {
            let mut logs = source.logs.clone();
            match fetch(&active, &source, tail, None).await {
                Ok(answer) => logs.text = answer.text,
                Err(err) => logs.error = Some(err),
            }
            (order, source, logs)
        });
    }
    let mut answers = calls.join_all().await;
    answers.sort_by_key(|(order, _, _)| *order);
    answers
        .into_iter()
        .map(|(_, source, logs)| (source, logs))
        .collect()
}

/// One `TaskLogs` call to the task's node (a worker's certificate names
/// the node, not `swarm-manager`); the error as the operator reads it.
async fn fetch(
    active: &Active,
    source: &Source,
    tail: Option<usize>,
    after: Option<LogCursor>,
) -> Result<TaskLogsAnswer, String> {
    let request = CtlRequest::TaskLogs {
        task_id: source.logs.task_id.clone(),
        tail,
        after,
    };
    let value = active
        .ctl
        .call_node(&source.addr, &source.node_id, &request, LOGS_TIMEOUT)
        .await
        .map_err(|err| DaemonError::from(err).full_message())?;
    serde_json::from_value(value).map_err(|_| "the node sent logs in an unknown shape".to_owned())
}

/// The streamed answer: a poller per task feeding one channel, and a
/// watcher adding pollers for tasks placed later (a scale-up, a
/// replacement), followed from their first line.
pub(crate) fn follow(
    daemon: Arc<Daemon>,
    id: String,
    active: Arc<Active>,
    sources: Vec<Source>,
    tail: Option<usize>,
    view: LogView,
    encoding: Encoding,
) -> Response {
    let (tx, rx) = mpsc::channel(FOLLOW_BUFFER);
    let mut followed = HashSet::new();
    let out = Out {
        tx,
        view: Arc::new(view),
        encoding,
    };
    for source in sources {
        followed.insert(source.logs.task_id.clone());
        tokio::spawn(follow_task(active.clone(), source, tail, out.clone()));
    }
    tokio::spawn(follow_new_tasks(daemon, id, followed, out));
    let mut response = Body::new(ChannelBody(rx)).into_response();
    let content_type = axum::http::HeaderValue::from_static(encoding.content_type);
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// Every [`FOLLOW_RESCAN`], starts following the service's tasks not
/// followed yet, until the client leaves (or the service is gone).
async fn follow_new_tasks(
    daemon: Arc<Daemon>,
    id: String,
    mut followed: HashSet<String>,
    out: Out,
) {
    loop {
        tokio::select! {
            () = out.tx.closed() => return,
            () = tokio::time::sleep(FOLLOW_RESCAN) => {}
        }
        let Ok((active, sources)) = sources(&daemon, &id) else {
            return;
        };
        for source in sources {
            if followed.insert(source.logs.task_id.clone()) {
                tokio::spawn(follow_task(active.clone(), source, None, out.clone()));
            }
        }
    }
}

/// Follows one task: its last lines, then new whole lines as its node
/// reads them, until the client leaves or the node cannot answer (the
/// task's container is gone, the node is down: said once, then done).
async fn follow_task(active: Arc<Active>, source: Source, tail: Option<usize>, out: Out) {
    let mut cursor = None;
    loop {
        let answer = fetch(&active, &source, tail, cursor).await;
        let (chunk, full) = match answer {
            Ok(answer) => {
                cursor = Some(answer.cursor);
                let full = answer.text.len() * 2 >= MAX_LOG_CHUNK;
                let logs = TaskLogs {
                    text: answer.text,
                    ..source.logs.clone()
                };
                ((!logs.text.is_empty()).then_some(logs), full)
            }
            Err(err) => {
                let logs = TaskLogs {
                    error: Some(err),
                    ..source.logs.clone()
                };
                let _ = out.send(&source, &logs).await;
                return;
            }
        };
        if let Some(logs) = chunk
            && out.send(&source, &logs).await.is_err()
        {
            return;
        }
        // A nearly full chunk: more is waiting, ask again at once.
        if full {
            continue;
        }
        tokio::select! {
            () = out.tx.closed() => return,
            () = tokio::time::sleep(FOLLOW_POLL) => {}
        }
    }
}

/// Where a follower's chunks go, and how they are shown and written.
#[derive(Clone)]
struct Out {
    tx: mpsc::Sender<Bytes>,
    view: Arc<LogView>,
    encoding: Encoding,
}

impl Out {
    /// Sends one chunk; an error once the client has left.
    async fn send(&self, source: &Source, logs: &TaskLogs) -> Result<(), ()> {
        let bytes = (self.encoding.encode)(source, logs, &self.view);
        self.tx.send(bytes).await.map_err(|_| ())
    }
}

/// `logs` as shown, as one line of JSON.
fn ndjson_line(logs: &TaskLogs, view: &LogView) -> Bytes {
    let shown = TaskLogs {
        text: view.render(&logs.text),
        ..logs.clone()
    };
    let mut line = serde_json::to_vec(&shown).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// A response body fed by a channel; it ends when every sender is gone,
/// and dropping it (the client left) closes the channel for them.
pub(crate) struct ChannelBody(pub(crate) mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}
