//! The simulated nodes of `cargo xtask bench scale` together: one tokio
//! runtime in the simulator's namespace running every node as a task, and
//! the counters the benchmark reads from its own thread while they run.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use shoal_netns_tests::lab::Node;
use shoal_security::ca::CaDigest;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::scale_node::{self, JoinPlan};

/// Joins in flight at once: the leader writes each to raft, and a burst of
/// thousands of handshakes only queues on the managers.
const JOINS_IN_FLIGHT: usize = 32;
/// First advertised address of the simulated nodes: a block outside the
/// lab's underlay that nothing routes (managers never dial workers
/// unless asked for a task's logs, and these run no task).
const SIM_ADDR_BASE: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);

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
    fn new() -> Self {
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

/// What the simulated nodes join with.
#[derive(Debug, Clone)]
pub struct FleetPlan {
    /// How many nodes.
    pub nodes: usize,
    /// The worker join token.
    pub token: String,
    /// Its CA digest.
    pub ca_digest: CaDigest,
    /// The managers' control addresses; node `i` joins through `i mod len`.
    pub managers: Vec<String>,
    /// Runtime worker threads.
    pub threads: usize,
}

/// The fleet running in its own thread.
pub struct RunningFleet {
    /// Its counters.
    pub fleet: Arc<Fleet>,
    thread: std::thread::JoinHandle<Result<()>>,
}

impl RunningFleet {
    /// Stops every node (their connections close with the runtime) and
    /// waits for the thread.
    pub fn stop(self) -> Result<()> {
        self.fleet.stop.store(true, Ordering::SeqCst);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the simulator thread panicked"))?
    }
}

/// Starts `plan.nodes` simulated nodes in `netns`'s namespace; they join
/// and run until [`RunningFleet::stop`].
pub fn start(netns: &Node, plan: FleetPlan) -> RunningFleet {
    let fleet = Arc::new(Fleet::new());
    let shared = fleet.clone();
    let netns = netns.clone();
    let thread = std::thread::spawn(move || {
        netns
            .run_in(move || run(plan, shared))
            .context("entering the simulator's namespace")?
    });
    RunningFleet { fleet, thread }
}

/// The runtime, built in the namespace (its worker threads inherit it).
fn run(plan: FleetPlan, fleet: Arc<Fleet>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.threads.max(1))
        .enable_all()
        .build()
        .context("the simulator's runtime")?;
    runtime.block_on(async {
        for i in 0..plan.nodes {
            let join = JoinPlan {
                token: plan.token.clone(),
                ca_digest: plan.ca_digest,
                manager: plan.managers[i % plan.managers.len()].clone(),
                hostname: format!("sim{i}"),
                advertise: format!("{}:2377", sim_addr(i)),
            };
            tokio::spawn(scale_node::run(join, fleet.clone()));
        }
        while !fleet.stop.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

/// The advertised address of simulated node `i`: 198.19.0.1 onwards.
pub fn sim_addr(i: usize) -> Ipv4Addr {
    let offset = u32::try_from(i).unwrap_or(u32::MAX);
    Ipv4Addr::from(u32::from(SIM_ADDR_BASE).saturating_add(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_nodes_get_consecutive_addresses_in_their_block() {
        assert_eq!(sim_addr(0), Ipv4Addr::new(198, 19, 0, 1));
        assert_eq!(sim_addr(254), Ipv4Addr::new(198, 19, 0, 255));
        assert_eq!(sim_addr(255), Ipv4Addr::new(198, 19, 1, 0));
    }
}
