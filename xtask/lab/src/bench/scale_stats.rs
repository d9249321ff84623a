//! The counters of `cargo xtask bench scale`'s simulated nodes: what they
//! have done so far, written by the nodes and read by the benchmark's own
//! thread while they run.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::{Semaphore, SemaphorePermit};

/// Joins in flight at once: the leader writes each to raft, and a burst of
/// thousands of handshakes only queues on the managers.
const JOINS_IN_FLIGHT: usize = 32;

/// What the nodes have done so far, shared with the benchmark's thread.
#[derive(Debug)]
pub struct Fleet {
    joins: Semaphore,
    joined: AtomicUsize,
    join_failures: AtomicUsize,
    first_join_error: Mutex<Option<String>>,
    heartbeat_failures: AtomicUsize,
    assignments: AtomicUsize,
    assignment_failures: AtomicUsize,
    report_failures: AtomicUsize,
    running: AtomicUsize,
    /// Each task's name (`svc.3`) and when its node first got it.
    seen: Mutex<Vec<(String, Instant)>>,
    stop: AtomicBool,
}

/// A snapshot of the fleet's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Nodes holding a certificate.
    pub joined: usize,
    /// Nodes that gave up joining.
    pub join_failures: usize,
    /// Heartbeats that failed.
    pub heartbeat_failures: usize,
    /// Assignments received.
    pub assignments: usize,
    /// Assignment polls that failed.
    pub assignment_failures: usize,
    /// Task report batches that failed.
    pub report_failures: usize,
    /// Running reports acknowledged (a replaced task counts again).
    pub running: usize,
}

impl Fleet {
    /// No node has done anything yet.
    pub fn new() -> Self {
        Self {
            joins: Semaphore::new(JOINS_IN_FLIGHT),
            joined: AtomicUsize::new(0),
            join_failures: AtomicUsize::new(0),
            first_join_error: Mutex::new(None),
            heartbeat_failures: AtomicUsize::new(0),
            assignments: AtomicUsize::new(0),
            assignment_failures: AtomicUsize::new(0),
            report_failures: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        }
    }

    /// A slot to join in.
    pub async fn join_permit(&self) -> Option<SemaphorePermit<'_>> {
        self.joins.acquire().await.ok()
    }

    /// A node holds its certificate.
    pub fn joined(&self) {
        self.joined.fetch_add(1, Ordering::Relaxed);
    }

    /// A node gave up joining with `error`.
    pub fn join_failed(&self, error: &str) {
        self.join_failures.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_join_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        first.get_or_insert_with(|| error.to_owned());
    }

    /// The first join error, if any.
    pub fn first_join_error(&self) -> Option<String> {
        self.first_join_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A heartbeat failed.
    pub fn heartbeat_failed(&self) {
        self.heartbeat_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// An assignment arrived.
    pub fn assignment_received(&self) {
        self.assignments.fetch_add(1, Ordering::Relaxed);
    }

    /// An assignment poll failed.
    pub fn assignment_failed(&self) {
        self.assignment_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A report batch failed.
    pub fn report_failed(&self) {
        self.report_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Task `name` reached its node at `at`.
    pub fn task_seen(&self, name: &str, at: Instant) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((name.to_owned(), at));
    }

    /// `count` running reports were acknowledged.
    pub fn running_acknowledged(&self, count: usize) {
        self.running.fetch_add(count, Ordering::Relaxed);
    }

    /// The tasks seen so far: name and when.
    pub fn seen(&self) -> Vec<(String, Instant)> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Asks every node to stop.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the nodes are to stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The counters now.
    pub fn counts(&self) -> Counts {
        let get = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        Counts {
            joined: get(&self.joined),
            join_failures: get(&self.join_failures),
            heartbeat_failures: get(&self.heartbeat_failures),
            assignments: get(&self.assignments),
            assignment_failures: get(&self.assignment_failures),
            report_failures: get(&self.report_failures),
            running: get(&self.running),
        }
    }
}

impl Default for Fleet {
    fn default() -> Self {
        Self::new()
    }
}
