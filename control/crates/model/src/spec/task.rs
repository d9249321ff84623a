//! [`Task`]: one container of a service, with desired and observed state.

use std::net::Ipv4Addr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::TaskTemplate;

/// Milliseconds since the Unix epoch. Callers pass the current time in;
/// nothing in the scheduler, orchestrator or allocator reads a clock.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// `self + span`, saturating.
    pub fn after(self, span: Duration) -> Timestamp {
        let millis = u64::try_from(span.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }

    /// `self - span`, saturating at the epoch.
    pub fn before(self, span: Duration) -> Timestamp {
        let millis = u64::try_from(span.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_sub(millis))
    }
}

/// Life cycle of a task, in order: everything after [`TaskState::Running`]
/// is terminal. Used both as desired state (set by managers) and as
/// observed state (reported by agents).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Created by the orchestrator.
    #[default]
    New,
    /// Waiting for the scheduler (or for resources).
    Pending,
    /// Given a node by the scheduler.
    Assigned,
    /// The node's agent accepted it.
    Accepted,
    /// The agent is preparing it (image, network, mounts).
    Preparing,
    /// Prepared; as desired state: prepare but don't start yet.
    Ready,
    /// The container is starting.
    Starting,
    /// The container runs.
    Running,
    /// It exited with status 0.
    Complete,
    /// It was stopped on purpose.
    Shutdown,
    /// It exited with an error or could not be started.
    Failed,
    /// The node refused it.
    Rejected,
    /// Its node disappeared and it was given up.
    Orphaned,
}

impl TaskState {
    /// Whether the task is past running (it will not run again).
    pub fn is_terminal(self) -> bool {
        self > TaskState::Running
    }

    /// Lower-case name as Docker prints it (`running`).
    pub fn name(self) -> &'static str {
        match self {
            TaskState::New => "new",
            TaskState::Pending => "pending",
            TaskState::Assigned => "assigned",
            TaskState::Accepted => "accepted",
            TaskState::Preparing => "preparing",
            TaskState::Ready => "ready",
            TaskState::Starting => "starting",
            TaskState::Running => "running",
            TaskState::Complete => "complete",
            TaskState::Shutdown => "shutdown",
            TaskState::Failed => "failed",
            TaskState::Rejected => "rejected",
            TaskState::Orphaned => "orphaned",
        }
    }
}

/// What is known about a task's actual state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// Observed state.
    pub state: TaskState,
    /// Human-readable progress (`scheduler assigned task to node`).
    #[serde(default)]
    pub message: String,
    /// Error, for failed and pending tasks (`no suitable node (...)`).
    #[serde(default)]
    pub err: Option<String>,
    /// When `state` was entered.
    pub timestamp: Timestamp,
}

/// Longest status message or error an agent's report may store, in
/// bytes: both are written to the raft log on every state change and
/// kept in the task history, so an agent (or a runtime error that quotes
/// a container's output) must not grow them without bound. Longer text is
/// cut at a character boundary and ends with [`TRUNCATED_MARKER`].
pub const MAX_STATUS_TEXT_LEN: usize = 1024;
/// What ends a status text cut to [`MAX_STATUS_TEXT_LEN`].
pub const TRUNCATED_MARKER: &str = "... (truncated)";

/// `text` cut to at most `max` bytes (marker included) at a character
/// boundary, ending with [`TRUNCATED_MARKER`] when it was cut.
pub fn truncate_text(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max.saturating_sub(TRUNCATED_MARKER.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(TRUNCATED_MARKER);
}

impl TaskStatus {
    /// This status with its message and error cut to
    /// [`MAX_STATUS_TEXT_LEN`] (what the leader stores of a report).
    pub fn bounded(mut self) -> TaskStatus {
        truncate_text(&mut self.message, MAX_STATUS_TEXT_LEN);
        if let Some(err) = self.err.as_mut() {
            truncate_text(err, MAX_STATUS_TEXT_LEN);
        }
        self
    }
}

/// A task's address on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    /// Network name.
    pub network: String,
    /// Address, once the allocator gave one.
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
}

/// One container of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Unique task ID.
    pub id: String,
    /// The service it belongs to.
    pub service_id: String,
    /// Replica number (1-based) for replicated services; 0 for global.
    pub slot: u64,
    /// The node it runs on; set by the scheduler, or by the orchestrator
    /// for global services.
    #[serde(default)]
    pub node_id: Option<String>,
    /// What the managers want: [`TaskState::Running`], [`TaskState::Ready`]
    /// (prepare, don't start) or [`TaskState::Shutdown`].
    pub desired_state: TaskState,
    /// What the agent last reported.
    pub status: TaskStatus,
    /// The service spec's template it was made from.
    pub spec: TaskTemplate,
    /// The service version it was made from.
    pub spec_version: u64,
    /// Addresses on the service's networks.
    #[serde(default)]
    pub networks: Vec<NetworkAttachment>,
}

/// Characters of the task ID a default hostname keeps (Docker's
/// container-ID prefix).
const HOSTNAME_ID_LEN: usize = 12;

impl Task {
    /// The container's hostname: the spec's `--hostname`, else the first
    /// 12 characters of the task ID, as Docker does. Never the task name
    /// (`web.1`): a dotted hostname makes resolvers (busybox, glibc)
    /// search its "domain" (`1`) for every single-label name.
    pub fn hostname(&self) -> String {
        self.spec.hostname.clone().unwrap_or_else(|| {
            let end = self
                .id
                .char_indices()
                .nth(HOSTNAME_ID_LEN)
                .map_or(self.id.len(), |(at, _)| at);
            self.id[..end].to_owned()
        })
    }

    /// Whether the managers still want this task (desired state at most
    /// running): it occupies its slot.
    pub fn is_wanted(&self) -> bool {
        self.desired_state <= TaskState::Running
    }

    /// Whether it counts against its node for spreading: wanted, placed
    /// and not yet ended.
    pub fn counts_on_node(&self) -> bool {
        self.node_id.is_some() && self.is_wanted() && !self.status.state.is_terminal()
    }

    /// Whether it holds its node's resources and host ports: placed and
    /// not yet ended (a task being stopped still holds them).
    pub fn holds_node(&self) -> bool {
        self.node_id.is_some()
            && self.status.state >= TaskState::Assigned
            && !self.status.state.is_terminal()
    }

    /// Whether it waits for the scheduler.
    pub fn needs_scheduling(&self) -> bool {
        self.is_wanted() && self.status.state <= TaskState::Pending
    }
}

/// What an agent reports about one of its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReport {
    /// The task.
    pub task_id: String,
    /// Its observed state, message and error.
    pub status: TaskStatus,
}
