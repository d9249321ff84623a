//! The agent's line to the managers: assignments and task reports over the
//! control RPC, and the agent's start on an active node.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::DaemonError;
use super::calls::call_managers;
use super::core::{Active, Daemon};
use super::supervise::supervise;
use crate::agent::{self, AgentConfig, DataplaneTarget, ImagePolicy, Swarm};
use crate::assignment_update::AssignmentUpdate;
use crate::ctl::{ASSIGNMENT_WAIT, CtlRequest, TaskReport};
use crate::dispatcher::{Assignment, underlay_ip};
use crate::runtime::image::RegistryAccess;
use shoal_common::overlay::WG_PORT;
use shoal_dataplane::wg::{WgDevice, status_file};

/// Slack on top of the manager's long-poll wait for the answer to travel.
const ASSIGNMENT_MARGIN: Duration = Duration::from_secs(5);
/// How long a batch of reports may take (the leader writes it to raft).
const REPORT_TIMEOUT: Duration = Duration::from_secs(15);

/// The managers as an active node reaches them, and the assignment last
/// received (what a manager's delta applies to).
struct ManagerLink {
    active: Arc<Active>,
    held: std::sync::Mutex<Option<Assignment>>,
}

impl ManagerLink {
    fn held(&self) -> std::sync::MutexGuard<'_, Option<Assignment>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Swarm for ManagerLink {
    type Error = DaemonError;

    /// Asks with the version held here (when the agent holds the same);
    /// a delta or an "unchanged" answer is applied to it, and one that
    /// does not apply makes the next poll ask for the whole assignment.
    async fn next_assignment(&self, known: Option<u64>) -> Result<Assignment, DaemonError> {
        let held = self.held().clone().filter(|a| Some(a.version) == known);
        let request = CtlRequest::Assignments {
            known: held.as_ref().map(|a| a.version),
        };
        let wait = ASSIGNMENT_WAIT + ASSIGNMENT_MARGIN;
        let value = call_managers(&self.active, &request, wait).await?;
        let update: AssignmentUpdate =
            serde_json::from_value(value).map_err(DaemonError::codec("assignment"))?;
        let applied = update.apply(held.as_ref());
        let mut slot = self.held();
        match applied {
            Ok(assignment) => {
                *slot = Some(assignment.clone());
                Ok(assignment)
            }
            Err(source) => {
                *slot = None;
                Err(DaemonError::AssignmentUpdate { source })
            }
        }
    }

    async fn send_reports(&self, reports: Vec<TaskReport>) -> Result<(), DaemonError> {
        call_managers(
            &self.active,
            &CtlRequest::TaskStatus(reports),
            REPORT_TIMEOUT,
        )
        .await?;
        Ok(())
    }
}

/// Starts the node's agent (stopped with the node's other tasks).
pub(crate) fn spawn(daemon: &Daemon, active: &Arc<Active>) {
    let advertise = active.node_state().advertise_addr;
    let dataplane = match (underlay_ip(&advertise), dataplane_pins(daemon)) {
        // Attaching the overlay to the loopback would take over the host's
        // own traffic, and no other node can reach it anyway.
        (Some(ip), _) if ip.is_loopback() || ip.is_unspecified() => {
            log::warn!("advertise address {advertise} is local only: tasks run without networks");
            None
        }
        (Some(advertise_ip), Some(pins)) => Some(DataplaneTarget {
            wg: wg_device(active, &pins),
            pins,
            advertise_ip,
            xdp_fast_path: daemon.opts.xdp_fast_path,
        }),
        (None, _) => {
            log::warn!("advertise address {advertise} is not IPv4: tasks run without networks");
            None
        }
        (_, None) => None,
    };
    let config = AgentConfig {
        runtime: active.runtime.clone(),
        dataplane,
        dns_upstreams: daemon.opts.dns_upstreams.clone(),
        images: ImagePolicy {
            access: RegistryAccess {
                insecure: daemon.opts.insecure_registries.clone(),
                certs_dir: Some(daemon.paths.registry_certs_dir()),
                ..RegistryAccess::default()
            },
            logins: Some(daemon.credential_store()),
            gc_grace: daemon.opts.image_gc_grace,
        },
    };
    let link = Arc::new(ManagerLink {
        active: active.clone(),
        held: std::sync::Mutex::new(None),
    });
    supervise(active, "agent", move || {
        agent::run(link.clone(), config.clone())
    });
}

/// The node's WireGuard path: started on the first activation and kept
/// for the life of the process (its workers and its UDP port are the
/// process's). Without it, encrypted networks' traffic is dropped.
fn wg_device(active: &Active, pins: &shoal_dataplane::PinPaths) -> Option<WgDevice> {
    static DEVICE: OnceLock<Option<WgDevice>> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let key = active.wg_key.clone().ok_or(DaemonError::NoWireGuardKey);
            let started = key.and_then(|key| {
                WgDevice::start(key, WG_PORT, status_file(pins))
                    .map_err(|source| DaemonError::WireGuard { source })
            });
            match started {
                Ok(device) => Some(device),
                Err(err) => {
                    log::warn!(
                        "WireGuard path not started (encrypted networks' traffic to other nodes is dropped): {}",
                        err.full_message()
                    );
                    None
                }
            }
        })
        .clone()
}

fn dataplane_pins(daemon: &Daemon) -> Option<shoal_dataplane::PinPaths> {
    match shoal_dataplane::PinPaths::under(&daemon.opts.bpffs, &daemon.opts.dp_node) {
        Ok(pins) => Some(pins),
        Err(err) => {
            log::warn!("data plane disabled: {err}");
            None
        }
    }
}

/// After `swarm leave`: the node's task containers are deleted (killed)
/// and its data-plane pins removed, as nothing will manage them any more.
/// Failures are logged; leaving has happened either way.
pub(crate) async fn clean_up_after_leave(daemon: &Daemon) {
    let runtime = daemon.runtime.clone();
    let pins = dataplane_pins(daemon);
    let cleaned = tokio::task::spawn_blocking(move || {
        for container in runtime.list().unwrap_or_default() {
            match runtime.delete(&container.id) {
                Ok(()) => log::info!("left the swarm: removed container {}", container.id),
                Err(err) => log::warn!("removing container {}: {err}", container.id),
            }
        }
        if let Some(pins) = pins
            && let Err(err) = pins.remove_all()
        {
            log::warn!("removing the data plane's pins: {err}");
        }
    })
    .await;
    if cleaned.is_err() {
        log::warn!("cleaning up after leaving the swarm failed unexpectedly");
    }
}
