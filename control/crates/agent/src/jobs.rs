//! Carrying out a decision about one task: start, stop, remove, check
//! health. Each runs as its own task (runtime calls in blocking threads);
//! the reconcile pass leaves a task alone while one of its jobs runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::containers::{container_spec, create_failure};
use super::dataplane::endpoint_id;
use super::health::{HealthPolicy, Verdict};
use super::report::status;
use super::{AgentError, Shared, TICK};
use shoal_model::assignment::{AssignedTask, Assignment};
use shoal_model::spec::TaskState;
use shoal_runtime::{Runtime, RuntimeError};

/// How long a task being shut down keeps running before it is stopped.
/// Every node's load balancer marks it draining from the same assignment
/// change that tells this node to stop it, so waiting a little lets new
/// connections go elsewhere before the process gets SIGTERM.
const DRAIN: Duration = Duration::from_secs(2);
/// Time between SIGTERM and SIGKILL (Docker's default stop grace).
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);

/// Runs `f` on the runtime in a blocking thread.
async fn blocking<T: Send + 'static>(
    shared: &Shared,
    what: &'static str,
    f: impl FnOnce(&Runtime) -> Result<T, RuntimeError> + Send + 'static,
) -> Result<T, AgentError> {
    let runtime = shared.runtime.clone();
    tokio::task::spawn_blocking(move || f(&runtime))
        .await
        .map_err(|_| AgentError::Panicked { what })?
        .map_err(AgentError::from)
}

/// Creates (unless `created`) and starts the task's container: reports
/// Preparing (pulling its image if the node lacks it), then Starting once created; waits for the data plane to
/// hold its interfaces; starts it and reports Running (or, with a health
/// check, leaves that to the first passing check).
pub(crate) async fn start(shared: Arc<Shared>, assigned: AssignedTask, created: bool) {
    let id = assigned.task.id.clone();
    if !created {
        shared.report(&id, status(TaskState::Preparing, "preparing", None));
        let using_images = shared.image_use.read().await;
        if let Err(err) = super::images::ensure_image(&shared, &assigned).await {
            return fail(&shared, &id, "preparing", &err);
        }
        let made = match container_spec(&assigned) {
            Ok(spec) => blocking(&shared, "container create", move |rt| rt.create(&spec)).await,
            Err(err) => Err(err),
        };
        drop(using_images);
        if let Err(err) = made {
            return fail(&shared, &id, "preparing", &err);
        }
    }
    shared.report(&id, status(TaskState::Starting, "starting", None));
    if shared.networked && !assigned.task.networks.is_empty() {
        // The next pass puts its interfaces into the data plane.
        shared.wake.notify_one();
        if !wait_for_interfaces(&shared, &assigned).await {
            return;
        }
    }
    let start_id = id.clone();
    if let Err(err) = blocking(&shared, "container start", move |rt| rt.start(&start_id)).await {
        return fail(&shared, &id, "starting", &err);
    }
    if super::health::policy(assigned.task.spec.healthcheck.as_ref()).is_none() {
        shared.report(&id, status(TaskState::Running, "started", None));
    }
    shared.wake.notify_one();
}

fn fail(shared: &Shared, task_id: &str, message: &str, err: &AgentError) {
    let (state, text) = create_failure(err);
    shared.remember(task_id, |memory| memory.ended = true);
    shared.report(task_id, status(state, message, Some(text)));
    shared.wake.notify_one();
}

/// Waits until the data plane in force holds every interface of the task;
/// `false` if the task stopped being wanted (or the agent is stopping).
async fn wait_for_interfaces(shared: &Shared, assigned: &AssignedTask) -> bool {
    let mut applied = shared.applied.clone();
    let mut assignment = shared.assignment.clone();
    loop {
        let wanted = {
            let latest = assignment.borrow_and_update();
            latest.as_ref().map(|a| interfaces(a, assigned))
        };
        let Some(Some(ids)) = wanted else {
            return false;
        };
        let programmed = applied.borrow_and_update().as_ref().is_some_and(|state| {
            ids.iter()
                .all(|id| state.endpoints.iter().any(|e| e.id == *id))
        });
        if programmed {
            return true;
        }
        tokio::select! {
            changed = applied.changed() => if changed.is_err() { return false },
            changed = assignment.changed() => if changed.is_err() { return false },
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

/// The endpoint IDs the task needs, or `None` if the latest assignment no
/// longer wants it running.
fn interfaces(assignment: &Assignment, assigned: &AssignedTask) -> Option<Vec<String>> {
    let task = assignment
        .tasks
        .iter()
        .find(|t| t.task.id == assigned.task.id)?;
    if task.task.desired_state != TaskState::Running {
        return None;
    }
    let known = |name: &str| assignment.networks.iter().any(|n| n.name == name);
    Some(
        task.task
            .networks
            .iter()
            .filter(|a| a.ip.is_some() && known(&a.network))
            .map(|a| endpoint_id(&task.task.id, &a.network))
            .collect(),
    )
}

/// Stops the task's container on purpose (desired shutdown); the next
/// pass reports Shutdown.
pub(crate) async fn stop(shared: Arc<Shared>, task_id: String, drain: bool) {
    shared.remember(&task_id, |memory| memory.stopping = true);
    if drain {
        tokio::time::sleep(DRAIN).await;
    }
    stop_container(&shared, &task_id).await;
    shared.wake.notify_one();
}

/// SIGTERM, then SIGKILL after the grace period; a failure is logged (the
/// container's exit, or its absence, shows in the next pass).
async fn stop_container(shared: &Arc<Shared>, task_id: &str) {
    let id = task_id.to_owned();
    if let Err(err) = blocking(shared, "container stop", move |rt| rt.stop(&id, STOP_GRACE)).await {
        log::warn!(
            "stopping task {task_id}: {}",
            super::containers::full_message(&err)
        );
    }
}

/// Stops and deletes the container of a task no longer assigned.
pub(crate) async fn remove(shared: Arc<Shared>, task_id: String) {
    let id = task_id.clone();
    let removed = blocking(&shared, "container delete", move |rt| {
        // A failed stop still ends in the delete's SIGKILL.
        let _ = rt.stop(&id, STOP_GRACE);
        rt.delete(&id)
    })
    .await;
    match removed {
        Ok(()) => log::info!("removed the container of task {task_id}"),
        Err(err) => log::warn!(
            "removing the container of task {task_id}: {}",
            super::containers::full_message(&err)
        ),
    }
    shared.wake.notify_one();
}

/// Runs one health check; an unhealthy container is stopped (the next pass
/// reports it failed).
pub(crate) async fn check_health(shared: Arc<Shared>, task_id: String, policy: HealthPolicy) {
    let (id, argv, timeout) = (task_id.clone(), policy.argv.clone(), policy.timeout);
    let passed = match blocking(&shared, "health check", move |rt| {
        rt.exec(&id, &argv, timeout)
    })
    .await
    {
        Ok(code) => code == 0,
        Err(AgentError::Runtime(RuntimeError::ExecTimeout { .. })) => false,
        // The container went away under the check: its exit tells.
        Err(_) => return,
    };
    let verdict = shared.remember(&task_id, |memory| {
        let verdict = memory
            .health
            .as_mut()
            .map(|health| health.record(&policy, passed, Instant::now()));
        if verdict == Some(Verdict::Unhealthy) {
            memory.unhealthy = true;
        }
        verdict
    });
    if verdict == Some(Verdict::Unhealthy) {
        log::info!("task {task_id}: unhealthy, stopping it");
        stop_container(&shared, &task_id).await;
    }
    shared.wake.notify_one();
}
