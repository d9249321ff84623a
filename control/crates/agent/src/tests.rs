//! The agent on real runc containers (run as root), driven by a fake swarm
//! that serves assignments and applies reports as the leader would.

use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Instant;

use super::*;
use shoal_model::assignment::AssignedTask;
use shoal_model::spec::{HealthCheck, ServiceSpec, Span, Task, TaskState};
use shoal_runtime::image::build_busybox_image;
use shoal_runtime::{ContainerState, RuntimeConfig, RuntimeError, Status};

/// How long a condition may take to come true.
const PATIENCE: Duration = Duration::from_secs(40);

/// Managers as the agent sees them: the assignment, and the reports it
/// sent (applied forward-only to the assignment, as the leader does).
struct FakeSwarm {
    assignment: watch::Sender<Assignment>,
    reports: Mutex<Vec<TaskReport>>,
}

impl Swarm for FakeSwarm {
    type Error = Infallible;

    async fn next_assignment(&self, known: Option<u64>) -> Result<Assignment, Infallible> {
        let mut changes = self.assignment.subscribe();
        let current = changes.borrow_and_update().clone();
        if Some(current.version) != known {
            return Ok(current);
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), changes.changed()).await;
        Ok(changes.borrow().clone())
    }

    async fn send_reports(&self, reports: Vec<TaskReport>) -> Result<(), Infallible> {
        self.assignment.send_modify(|a| {
            for report in &reports {
                let task = a.tasks.iter_mut().find(|t| t.task.id == report.task_id);
                if let Some(task) = task
                    && !task.task.status.state.is_terminal()
                    && report.status.state > task.task.status.state
                {
                    task.task.status = report.status.clone();
                }
            }
            a.version += 1;
        });
        lock(&self.reports).extend(reports);
        Ok(())
    }
}

/// A runtime with the image `test`, a fake swarm, and the agent running.
struct Lab {
    runtime: Arc<Runtime>,
    swarm: Arc<FakeSwarm>,
    agent: tokio::task::JoinHandle<()>,
    prefix: String,
    _dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::open(RuntimeConfig::new(&dir.path().join("state"))).unwrap();
        let archive = dir.path().join("image.tar");
        build_busybox_image("test", &[], &["sh", "-c", "echo default"], &archive).unwrap();
        runtime.images().load(&archive).unwrap();
        let runtime = Arc::new(runtime);
        let swarm = Arc::new(FakeSwarm {
            assignment: watch::channel(Assignment {
                version: 1,
                node_id: "n1".to_owned(),
                data_path_port: 4789,
                ..Assignment::default()
            })
            .0,
            reports: Mutex::default(),
        });
        let agent = Self::start_agent(&runtime, &swarm);
        Lab {
            runtime,
            swarm,
            agent,
            prefix: format!("agt{}", std::process::id()),
            _dir: dir,
        }
    }

    fn start_agent(runtime: &Arc<Runtime>, swarm: &Arc<FakeSwarm>) -> tokio::task::JoinHandle<()> {
        let config = AgentConfig {
            runtime: runtime.clone(),
            dataplane: None,
            dns_upstreams: Vec::new(),
            images: crate::ImagePolicy::default(),
        };
        tokio::spawn(run(swarm.clone(), config))
    }

    /// A task of service `web` in `slot` running `script` in `sh -c`.
    fn task(&self, slot: u64, image: &str, script: &str) -> AssignedTask {
        let mut template = ServiceSpec::new("web", image).task;
        template.args = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
        template.env = vec!["GREETING=hello".to_owned()];
        AssignedTask {
            task: Task {
                id: format!("{}-{slot}", self.prefix),
                service_id: "svc".to_owned(),
                slot,
                node_id: Some("n1".to_owned()),
                desired_state: TaskState::Running,
                status: shoal_model::spec::TaskStatus {
                    state: TaskState::Assigned,
                    ..Default::default()
                },
                spec: template,
                spec_version: 1,
                networks: Vec::new(),
            },
            name: format!("web.{slot}"),
            secrets: Vec::new(),
            configs: Vec::new(),
        }
    }

    fn change(&self, f: impl FnOnce(&mut Vec<AssignedTask>)) {
        self.swarm.assignment.send_modify(|a| {
            f(&mut a.tasks);
            a.version += 1;
        });
    }

    /// The states reported for `task_id`, in order.
    fn states(&self, task_id: &str) -> Vec<TaskState> {
        lock(&self.swarm.reports)
            .iter()
            .filter(|r| r.task_id == task_id)
            .map(|r| r.status.state)
            .collect()
    }

    /// The last report of `task_id` once it is `state`.
    async fn wait_state(&self, task_id: &str, state: TaskState) -> TaskReport {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let last = lock(&self.swarm.reports)
                .iter()
                .rfind(|r| r.task_id == task_id)
                .cloned();
            if let Some(report) = last.filter(|r| r.status.state == state) {
                return report;
            }
            assert!(
                Instant::now() < deadline,
                "{task_id} never reached {state:?}: {:?}",
                self.states(task_id)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn container(&self, id: &str) -> Result<ContainerState, RuntimeError> {
        let (runtime, id) = (self.runtime.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || runtime.state(&id))
            .await
            .unwrap()
    }

    async fn logs(&self, id: &str) -> String {
        let (runtime, id) = (self.runtime.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || task_logs(&runtime, &id, None))
            .await
            .unwrap()
            .unwrap()
            .0
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.agent.abort();
        for container in self.runtime.list().unwrap_or_default() {
            if let Err(e) = self.runtime.delete(&container.id) {
                eprintln!("cleanup of {}: {e}", container.id);
            }
        }
    }
}

/// Stops on SIGTERM at once (a shell as PID 1 ignores it otherwise).
const SERVE: &str =
    "trap 'exit 0' TERM; echo \"$GREETING from $(hostname)\"; while true; do sleep 1; done";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_assignment_runs_reports_stops_and_cleans_up_real_containers() {
    let lab = Lab::new();
    let serve = lab.task(1, "test", SERVE);
    let crash = lab.task(2, "test", "echo bye; exit 3");
    let missing = lab.task(3, "missing:1", "true");
    let ids = [&serve, &crash, &missing].map(|t| t.task.id.clone());
    lab.change(|tasks| tasks.extend([serve.clone(), crash.clone(), missing.clone()]));

    lab.wait_state(&ids[0], TaskState::Running).await;
    assert_eq!(
        lab.states(&ids[0]),
        [
            TaskState::Preparing,
            TaskState::Starting,
            TaskState::Running
        ]
    );
    assert_eq!(
        lab.container(&ids[0]).await.unwrap().status,
        Status::Running
    );
    let deadline = Instant::now() + PATIENCE;
    while lab.logs(&ids[0]).await.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The hostname is the task ID's first 12 characters (Docker's).
    let hostname: String = ids[0].chars().take(12).collect();
    assert_eq!(lab.logs(&ids[0]).await, format!("hello from {hostname}\n"));

    let failed = lab.wait_state(&ids[1], TaskState::Failed).await;
    assert_eq!(
        failed.status.err.as_deref(),
        Some("task: non-zero exit (3)")
    );
    // Kept for its logs while assigned.
    assert_eq!(lab.logs(&ids[1]).await, "bye\n");
    let rejected = lab.wait_state(&ids[2], TaskState::Rejected).await;
    assert_eq!(
        rejected.status.err.as_deref(),
        Some("No such image: missing:1")
    );

    let again = restart_adopts_the_running_container(&lab, &ids[0]).await;
    shutdown_stops_then_removal_deletes(&lab, &ids).await;
    again.abort();
}

/// The agent restarts: the running container is adopted, not recreated,
/// and nothing is reported again.
async fn restart_adopts_the_running_container(lab: &Lab, id: &str) -> tokio::task::JoinHandle<()> {
    let pid = lab.container(id).await.unwrap().pid;
    lab.agent.abort();
    let reports_before = lock(&lab.swarm.reports).len();
    let again = Lab::start_agent(&lab.runtime, &lab.swarm);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(lab.container(id).await.unwrap().pid, pid);
    assert_eq!(
        lock(&lab.swarm.reports).len(),
        reports_before,
        "restart re-reported"
    );
    again
}

/// Shut down: drained, stopped, reported; then deleted (with the exited
/// one) once the tasks leave the assignment.
async fn shutdown_stops_then_removal_deletes(lab: &Lab, ids: &[String; 3]) {
    lab.change(|tasks| tasks[0].task.desired_state = TaskState::Shutdown);
    lab.wait_state(&ids[0], TaskState::Shutdown).await;
    assert_eq!(
        lab.container(&ids[0]).await.unwrap().status,
        Status::Stopped
    );
    lab.change(|tasks| tasks.retain(|t| t.task.id != ids[0] && t.task.id != ids[1]));
    let deadline = Instant::now() + PATIENCE;
    for id in &ids[..2] {
        while lab.container(id).await.is_ok() {
            assert!(Instant::now() < deadline, "container {id} not deleted");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_checks_hold_a_task_in_starting_and_fail_an_unhealthy_one() {
    let lab = Lab::new();
    let check = |cmd: &[&str], start_period| HealthCheck {
        cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
        interval: Span::from_millis(300),
        timeout: Span::from_secs(5),
        retries: 2,
        start_period,
    };
    // Ready after a second: its failures before then fall in the start
    // period and do not count.
    let mut healthy = lab.task(4, "test", &format!("sleep 1; touch /tmp/ready; {SERVE}"));
    let ready = check(&["CMD", "test", "-f", "/tmp/ready"], Span::from_secs(30));
    healthy.task.spec.healthcheck = Some(ready);
    let mut sick = lab.task(5, "test", SERVE);
    sick.task.spec.healthcheck = Some(check(&["CMD-SHELL", "exit 1"], Span::ZERO));
    let ids = [healthy.task.id.clone(), sick.task.id.clone()];
    lab.change(|tasks| tasks.extend([healthy, sick]));

    lab.wait_state(&ids[0], TaskState::Running).await;
    assert_eq!(
        lab.states(&ids[0]),
        [
            TaskState::Preparing,
            TaskState::Starting,
            TaskState::Running
        ]
    );
    let failed = lab.wait_state(&ids[1], TaskState::Failed).await;
    assert_eq!(failed.status.err.as_deref(), Some("unhealthy container"));
    assert!(!lab.states(&ids[1]).contains(&TaskState::Running));
    assert_eq!(
        lab.container(&ids[1]).await.unwrap().status,
        Status::Stopped
    );
}
