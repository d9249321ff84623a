//! One reconcile pass: every assigned task's decision carried out (at most
//! one job per task at a time), containers of unassigned tasks removed,
//! and the data plane's desired state brought up to date.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use shoal_dataplane::node::DesiredState;
use shoal_dataplane::overlay::state::Underlay;
use shoal_dataplane::wg::{PresharedKey, WG_IFACE, WgDevice, WgPeerSpec};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::containers::full_message;
use super::dataplane::{LocalTask, desired_state};
use super::dns::Dns;
use super::health::{self, HealthState};
use super::reconcile::{Decision, decide};
use super::report::status;
use super::{AgentError, Shared, jobs, lock, programmer};
use shoal_model::assignment::{AssignedTask, Assignment};
use shoal_model::spec::TaskState;
use shoal_runtime::{ContainerState, NETNS_DIR, Status};

/// The reconcile loop's own state.
pub(crate) struct Reconciler {
    shared: Arc<Shared>,
    /// Running jobs by task ID.
    jobs: HashMap<String, JoinHandle<()>>,
    /// Where the data plane's desired state goes.
    desired: watch::Sender<Option<DesiredState>>,
    /// The node's advertised IP, when the data plane is programmed.
    advertise_ip: Option<Ipv4Addr>,
    /// The interface holding it, once found.
    underlay: Option<String>,
    /// Why the last lookup failed (logged once, not every pass).
    underlay_error: String,
    /// The embedded resolver.
    dns: Dns,
    /// The WireGuard path of encrypted networks, when the node runs one.
    wg: Option<WgDevice>,
    /// The underlay's XDP fast path (`Underlay::xdp_fast_path`).
    pub(crate) xdp_fast_path: bool,
}

impl Drop for Reconciler {
    fn drop(&mut self) {
        // Blocking runtime calls already under way finish on their own.
        for job in self.jobs.values() {
            job.abort();
        }
    }
}

impl Reconciler {
    pub(crate) fn new(
        shared: Arc<Shared>,
        desired: watch::Sender<Option<DesiredState>>,
        advertise_ip: Option<Ipv4Addr>,
        dns: Dns,
        wg: Option<WgDevice>,
    ) -> Self {
        Reconciler {
            shared,
            jobs: HashMap::new(),
            desired,
            advertise_ip,
            underlay: None,
            underlay_error: String::new(),
            dns,
            wg,
            xdp_fast_path: false,
        }
    }

    /// One pass over the latest assignment (nothing before the first).
    pub(crate) async fn pass(&mut self) {
        let Some(assignment) = self.shared.assignment.borrow().clone() else {
            return;
        };
        // Before listing: a job that ends while the list is taken stays
        // "busy" for this pass, so a half-done change (a container created
        // but not yet started) is never mistaken for work to do.
        self.jobs.retain(|_, job| !job.is_finished());
        let containers = match self.list_containers().await {
            Ok(containers) => containers,
            Err(err) => {
                log::warn!("listing containers: {err}");
                return;
            }
        };
        // Before any task starts: its resolver answers from its first
        // instruction on.
        let live: Vec<(String, PathBuf)> = containers
            .values()
            .filter(|c| c.status != Status::Stopped)
            .map(|c| (c.id.clone(), c.netns.clone()))
            .collect();
        self.dns.sync(&assignment, &live).await;
        let now = Instant::now();
        for assigned in &assignment.tasks {
            self.step(assigned, containers.get(&assigned.task.id), now);
        }
        let assigned: HashSet<&str> = assignment
            .tasks
            .iter()
            .map(|t| t.task.id.as_str())
            .collect();
        for id in containers.keys() {
            if !assigned.contains(id.as_str()) && !self.jobs.contains_key(id) {
                let job = tokio::spawn(jobs::remove(self.shared.clone(), id.clone()));
                self.jobs.insert(id.clone(), job);
            }
        }
        let keep = |id: &str| assigned.contains(id) || containers.contains_key(id);
        lock(&self.shared.memory).retain(|id, _| keep(id));
        lock(&self.shared.reports).retain(|id| assigned.contains(id));
        self.update_dataplane(&assignment, &containers).await;
    }

    async fn list_containers(&self) -> Result<BTreeMap<String, ContainerState>, String> {
        let runtime = self.shared.runtime.clone();
        let listed = tokio::task::spawn_blocking(move || {
            // Logs are kept bounded on the same beat as the listing.
            if let Err(err) = runtime.rotate_logs(shoal_runtime::logs::LOG_MAX_BYTES) {
                log::warn!("rotating container logs: {}", full_message(&err));
            }
            runtime.list()
        })
        .await
        .map_err(|_| "the listing panicked".to_owned())?;
        let containers = listed.map_err(|err| full_message(&err))?;
        Ok(containers.into_iter().map(|c| (c.id.clone(), c)).collect())
    }

    /// Decides about one task and starts the job it needs.
    fn step(&mut self, assigned: &AssignedTask, container: Option<&ContainerState>, now: Instant) {
        let id = &assigned.task.id;
        if self.jobs.contains_key(id) {
            return;
        }
        let policy = health::policy(assigned.task.spec.healthcheck.as_ref());
        let running = container.is_some_and(|c| c.status == Status::Running)
            && assigned.task.desired_state == TaskState::Running;
        let (decision, health_due) = self.shared.remember(id, |memory| {
            match (&policy, running) {
                (Some(policy), true) => {
                    let already = assigned.task.status.state == TaskState::Running;
                    memory
                        .health
                        .get_or_insert_with(|| HealthState::new(policy, now, already));
                }
                _ => memory.health = None,
            }
            let decision = decide(assigned, container, memory);
            if let Decision::Report { state, .. } = &decision
                && state.is_terminal()
            {
                memory.ended = true;
            }
            let due = !memory.ended && memory.health.as_ref().is_some_and(|h| h.due(now));
            (decision, due)
        });
        let shared = self.shared.clone();
        let job = match decision {
            Decision::Nothing => None,
            Decision::Start => {
                let created = container.is_some();
                Some(tokio::spawn(jobs::start(shared, assigned.clone(), created)))
            }
            Decision::Stop { drain } => Some(tokio::spawn(jobs::stop(shared, id.clone(), drain))),
            Decision::Report {
                state,
                message,
                err,
            } => {
                let stored = assigned.task.status.state;
                let fresh = status(state, message, err);
                if stored != state {
                    lock(&self.shared.reports).ensure(id, stored, fresh);
                    self.shared.send_now.notify_one();
                }
                match policy {
                    Some(policy) if health_due => {
                        Some(tokio::spawn(jobs::check_health(shared, id.clone(), policy)))
                    }
                    _ => None,
                }
            }
        };
        if let Some(job) = job {
            self.jobs.insert(id.clone(), job);
        }
    }

    /// Recomputes the data plane's desired state from the assignment and
    /// the live containers.
    async fn update_dataplane(
        &mut self,
        assignment: &Assignment,
        containers: &BTreeMap<String, ContainerState>,
    ) {
        let Some(ip) = self.advertise_ip else {
            return;
        };
        let Some(iface) = self.underlay(ip).await else {
            return;
        };
        let local: Vec<LocalTask<'_>> = assignment
            .tasks
            .iter()
            .filter_map(|assigned| {
                let container = containers.get(&assigned.task.id)?;
                if container.status == Status::Stopped
                    || container.netns.parent() != Some(Path::new(NETNS_DIR))
                {
                    return None;
                }
                let netns = container.netns.file_name()?.to_str()?;
                Some(LocalTask {
                    task: assigned,
                    netns,
                })
            })
            .collect();
        if let Some(wg) = &self.wg {
            wg.set_peers(&wg_peers(assignment), overlay_key(assignment).as_ref());
        }
        let underlay = Underlay {
            iface,
            addr: Some(ip),
            vxlan_port: assignment.data_path_port,
            wg_iface: self.wg.as_ref().map(|_| WG_IFACE.to_owned()),
            xdp_fast_path: self.xdp_fast_path,
        };
        let state = desired_state(assignment, &local, underlay);
        self.desired.send_if_modified(|current| {
            let changed = current.as_ref() != Some(&state);
            if changed {
                *current = Some(state);
            }
            changed
        });
    }

    /// The underlay interface, looked up until found.
    async fn underlay(&mut self, ip: Ipv4Addr) -> Option<String> {
        if self.underlay.is_none() {
            let found = tokio::task::spawn_blocking(move || programmer::find_underlay(ip))
                .await
                .unwrap_or(Err(AgentError::Panicked {
                    what: "underlay lookup",
                }));
            match found {
                Ok(iface) => self.underlay = Some(iface),
                Err(err) => {
                    let message = full_message(&err);
                    if message != self.underlay_error {
                        log::warn!("data plane: {message}");
                        self.underlay_error = message;
                    }
                }
            }
        }
        self.underlay.clone()
    }
}

/// The swarm's preshared key for encrypted networks, if the assignment
/// carries one that decodes (one that does not is said so; sessions then
/// run without it, and the peers' handshakes fail: never clear).
fn overlay_key(assignment: &Assignment) -> Option<PresharedKey> {
    let key = assignment.overlay_key.as_ref()?;
    match PresharedKey::from_base64(key.generation, &key.key) {
        Ok(psk) => Some(psk),
        Err(err) => {
            log::warn!(
                "encrypted networks' key, generation {}: {err}",
                key.generation
            );
            None
        }
    }
}

/// The WireGuard peers of an assignment; a peer whose key does not parse
/// is left out (its encrypted traffic is dropped), and said so.
fn wg_peers(assignment: &Assignment) -> Vec<WgPeerSpec> {
    assignment
        .wg_peers
        .iter()
        .filter_map(|peer| match peer.public_key.parse() {
            Ok(public_key) => Some(WgPeerSpec {
                node: peer.addr,
                public_key,
                endpoint: SocketAddrV4::new(peer.addr, peer.port),
            }),
            Err(err) => {
                log::warn!("WireGuard peer {}: {err}", peer.addr);
                None
            }
        })
        .collect()
}
