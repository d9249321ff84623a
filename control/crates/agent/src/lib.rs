//! The agent: every node's runner of its share of the services.
//!
//! It long-polls its [`Assignment`] from the managers ([`Swarm`]), and on
//! every change (and every second, for exits and health checks) reconciles
//! it with the node's containers: starts the tasks it should run (their
//! network interfaces programmed before their process starts), stops those
//! to shut down (after a drain period), reports what it observes to the
//! leader in batches, deletes the containers of tasks no longer assigned,
//! and keeps the data plane ([`desired_state`]) in step.
//!
//! - `reconcile`: the pure decision per task; `jobs`: carrying one out;
//! - `containers`: task ↔ container spec, logs; `health`: health checks;
//! - `dataplane`: assignment → data-plane state; `programmer`: applying it;
//! - `report`: status reports; `pass`: one reconcile pass over all tasks;
//! - `images`: pulling a task's image; `image_gc`: removing unused ones;
//! - `dns`: the embedded resolver on 127.0.0.11 in every task.
//!
//! It owns the agent and may depend on `shoal-model`, `shoal-runtime`
//! and `shoal-dataplane`.

mod containers;
mod dataplane;
mod dns;
mod error;
mod health;
mod image_gc;
mod images;
mod jobs;
mod pass;
mod programmer;
mod reconcile;
mod report;

pub use containers::{task_logs, task_logs_since};
pub use dataplane::{LocalTask, desired_state, endpoint_id, service_entry_name};
pub use dns::{DnsError, RESOLVER_IP, nameservers};
pub use error::AgentError;
pub use images::ImagePolicy;

use std::collections::HashMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use shoal_dataplane::PinPaths;
use shoal_dataplane::node::DesiredState;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use shoal_model::assignment::Assignment;
use shoal_model::spec::TaskReport;
use shoal_model::spec::TaskStatus;
use shoal_runtime::Runtime;

use reconcile::TaskMemory;
use report::Reports;

/// How often the agent looks at its containers without other news.
const TICK: Duration = Duration::from_secs(1);
/// Pause after a failed assignment request before the next.
const POLL_RETRY: Duration = Duration::from_secs(1);

/// What the agent needs from the swarm's managers.
pub trait Swarm: Send + Sync + 'static {
    /// Why a call failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The node's assignment; held back by the manager while its version
    /// equals `known` (a long poll).
    fn next_assignment(
        &self,
        known: Option<u64>,
    ) -> impl Future<Output = Result<Assignment, Self::Error>> + Send;

    /// Delivers task status reports to the leader.
    fn send_reports(
        &self,
        reports: Vec<TaskReport>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// The data plane the agent programs.
#[derive(Debug, Clone)]
pub struct DataplaneTarget {
    /// The node's pins (as `shoal dp --node` names them).
    pub pins: PinPaths,
    /// The node's advertised IP: its interface is the underlay.
    pub advertise_ip: Ipv4Addr,
    /// The node's WireGuard path (started once per process by the
    /// daemon); without it, encrypted networks' traffic to other nodes is
    /// dropped.
    pub wg: Option<shoal_dataplane::wg::WgDevice>,
    /// Unwrap VXLAN for local tasks at XDP (`shoal daemon --xdp-fast-path`).
    pub xdp_fast_path: bool,
}

/// How to run an agent.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The node's container runtime.
    pub runtime: Arc<Runtime>,
    /// The data plane to program; `None` runs tasks without networking.
    pub dataplane: Option<DataplaneTarget>,
    /// Where the embedded resolver forwards names that are not the
    /// cluster's (the node's own resolvers, see [`nameservers`]).
    pub dns_upstreams: Vec<SocketAddr>,
    /// Pulling tasks' images and removing unused ones.
    pub images: ImagePolicy,
}

/// State the reconcile loop and its jobs share.
pub(crate) struct Shared {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) memory: Mutex<HashMap<String, TaskMemory>>,
    pub(crate) reports: Mutex<Reports>,
    /// Asks for a reconcile pass now.
    pub(crate) wake: Notify,
    /// Asks for the reports to be sent now.
    pub(crate) send_now: Notify,
    /// The latest assignment.
    pub(crate) assignment: watch::Receiver<Option<Assignment>>,
    /// The data-plane state in force.
    pub(crate) applied: watch::Receiver<Option<DesiredState>>,
    /// Whether the data plane is programmed (else tasks start unwired).
    pub(crate) networked: bool,
    /// Registry access and image GC settings.
    pub(crate) images: ImagePolicy,
    /// Pulls in progress, one per image.
    pub(crate) pulls: images::PullLocks,
    /// Held shared by a start job from its image check to its container's
    /// creation, and exclusively by an image GC pass: the GC never removes
    /// an image between a task finding it and its container using it.
    pub(crate) image_use: tokio::sync::RwLock<()>,
}

/// Locks a std mutex, taking over a poisoned one (the guarded maps stay
/// consistent: every update is one insert or remove).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Queues a report of `task_id` and has it sent soon.
    pub(crate) fn report(&self, task_id: &str, status: TaskStatus) {
        log::info!(
            "task {task_id}: {}{}",
            status.state.name(),
            status
                .err
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        lock(&self.reports).queue(task_id, status);
        self.send_now.notify_one();
    }

    /// Runs `task_id`'s memory through `f`.
    pub(crate) fn remember<T>(&self, task_id: &str, f: impl FnOnce(&mut TaskMemory) -> T) -> T {
        f(lock(&self.memory).entry(task_id.to_owned()).or_default())
    }
}

/// Runs the agent until the returned future is dropped (its background
/// work stops with it; containers keep running).
pub async fn run<S: Swarm>(swarm: Arc<S>, config: AgentConfig) {
    let (assignment_tx, assignment_rx) = watch::channel(None);
    let (desired_tx, desired_rx) = watch::channel(None);
    let (applied_tx, applied_rx) = watch::channel(None);
    let shared = Arc::new(Shared {
        runtime: config.runtime,
        memory: Mutex::default(),
        reports: Mutex::default(),
        wake: Notify::new(),
        send_now: Notify::new(),
        assignment: assignment_rx.clone(),
        applied: applied_rx,
        networked: config.dataplane.is_some(),
        images: config.images,
        pulls: images::PullLocks::default(),
        image_use: tokio::sync::RwLock::new(()),
    });
    // Dropped with this future: aborts the poller, sender and programmer.
    let mut background = JoinSet::new();
    background.spawn(poll_assignments(swarm.clone(), assignment_tx));
    background.spawn(send_reports(swarm, shared.clone()));
    if let Some(grace) = shared.images.gc_grace {
        background.spawn(image_gc::run(shared.clone(), grace));
    }
    let (advertise_ip, wg, xdp_fast_path) = match config.dataplane {
        Some(target) => {
            background.spawn(programmer::program(target.pins, desired_rx, applied_tx));
            (Some(target.advertise_ip), target.wg, target.xdp_fast_path)
        }
        None => (None, None, false),
    };
    let dns = dns::Dns::new(config.dns_upstreams);
    let mut passes = pass::Reconciler::new(shared.clone(), desired_tx, advertise_ip, dns, wg);
    passes.xdp_fast_path = xdp_fast_path;
    let mut news = assignment_rx;
    loop {
        passes.pass().await;
        tokio::select! {
            changed = news.changed() => if changed.is_err() { return },
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

/// Keeps the latest assignment in `latest`.
async fn poll_assignments<S: Swarm>(swarm: Arc<S>, latest: watch::Sender<Option<Assignment>>) {
    let mut known = None;
    loop {
        match swarm.next_assignment(known).await {
            Ok(assignment) => {
                known = Some(assignment.version);
                latest.send_if_modified(|current| {
                    let changed = current.as_ref().map(|a| a.version) != Some(assignment.version);
                    if changed {
                        *current = Some(assignment);
                    }
                    changed
                });
            }
            Err(err) => {
                log::debug!("assignment: {}", containers::full_message(&err));
                tokio::time::sleep(POLL_RETRY).await;
            }
        }
    }
}

/// Sends queued reports whenever there are some; failed sends are retried
/// (only the latest state per task is kept).
async fn send_reports<S: Swarm>(swarm: Arc<S>, shared: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = shared.send_now.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
        let batch = lock(&shared.reports).batch();
        if batch.is_empty() {
            continue;
        }
        match swarm.send_reports(batch.clone()).await {
            Ok(()) => lock(&shared.reports).delivered(&batch),
            Err(err) => log::debug!("task reports: {}", containers::full_message(&err)),
        }
    }
}

#[cfg(test)]
mod tests;
