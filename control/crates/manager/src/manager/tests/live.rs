//! The real manager loop on a real single-node raft store (loopback, a
//! temporary directory), with agents simulated through the task status
//! path.

use std::sync::Arc;
use std::time::Duration;

use crate::manager::{ClusterTables, Leadership, api, put, record_reports, run, views};
use crate::orchestrator::{SlotKey, new_task};
use shoal_model::cluster::{NODES, TASKS};
use shoal_model::spec::{MAX_STATUS_TEXT_LEN, TRUNCATED_MARKER, TaskReport};
use shoal_model::spec::{
    RestartPolicy, Service, ServiceMode, ServiceSpec, Span, Task, TaskState, TaskStatus, Timestamp,
};
use shoal_raft::{NodeConfig, RaftNode, RaftTls, Store};
use shoal_security::ca::{
    CertValidity, DEFAULT_NODE_CERT_EXPIRY, DEFAULT_ROOT_EXPIRY, Role, RootCa,
};
use shoal_security::seal::DataKey;

use shoal_model::test_support::PATIENCE;

/// A one-manager raft store that leads.
pub(super) struct TestLeader {
    raft: RaftNode,
    writes: tokio::sync::Mutex<()>,
    reports: crate::manager::ReportQueue,
    _dir: tempfile::TempDir,
}

impl Leadership for TestLeader {
    fn store(&self) -> &Store {
        self.raft.store()
    }

    fn is_leader(&self) -> bool {
        self.raft.metrics().state == openraft::ServerState::Leader
    }

    fn writes(&self) -> &tokio::sync::Mutex<()> {
        &self.writes
    }

    fn reports(&self) -> &crate::manager::ReportQueue {
        &self.reports
    }
}

impl TestLeader {
    /// Starts raft on loopback, initialises it and waits until it leads.
    pub(super) async fn start() -> Arc<TestLeader> {
        let ca = RootCa::create("managertest", DEFAULT_ROOT_EXPIRY).unwrap();
        let validity = CertValidity::from_now(DEFAULT_NODE_CERT_EXPIRY).unwrap();
        let (key, cert) = ca
            .issue_with_new_key("manager-1", Role::Manager, validity)
            .unwrap();
        let tls = RaftTls::new(ca.cert(), &cert, &key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = NodeConfig::new(1, loopback, dir.path().join("raft"));
        config.raft = openraft::Config {
            cluster_name: "managertest".to_owned(),
            heartbeat_interval: 50,
            election_timeout_min: 150,
            election_timeout_max: 300,
            ..Default::default()
        };
        let raft = RaftNode::start(config, DataKey::generate(), &tls)
            .await
            .unwrap();
        raft.initialize().await.unwrap();
        let leader = Arc::new(TestLeader {
            raft,
            writes: tokio::sync::Mutex::new(()),
            reports: crate::manager::ReportQueue::default(),
            _dir: dir,
        });
        eventually("the node to lead", || leader.is_leader().then_some(())).await;
        leader
    }

    /// The tables as applied.
    pub(super) fn tables(&self) -> ClusterTables {
        api::load(self)
    }

    /// Stores a ready worker record.
    pub(super) async fn add_node(&self, id: &str) {
        let record = super::node_record(id);
        let command = put(NODES, id, &record).unwrap();
        self.store().propose(command).await.unwrap();
    }
}

pub(super) use shoal_model::test_support::eventually;

/// A report of `state` for `task`.
fn report(task: &Task, state: TaskState) -> TaskReport {
    TaskReport {
        task_id: task.id.clone(),
        status: TaskStatus {
            state,
            message: state.name().to_owned(),
            err: (state == TaskState::Failed).then(|| "exit status 1".to_owned()),
            timestamp: Default::default(),
        },
    }
}

/// The agent of `node`: reports every task assigned to it and wanted
/// running as running (through the leader's task status path).
async fn agent_step(leader: &TestLeader, node: &str) {
    let reports: Vec<TaskReport> = leader
        .tables()
        .tasks
        .values()
        .filter(|t| t.node_id.as_deref() == Some(node))
        .filter(|t| t.desired_state == TaskState::Running)
        .filter(|t| t.status.state >= TaskState::Assigned && t.status.state < TaskState::Running)
        .map(|t| report(t, TaskState::Running))
        .collect();
    if !reports.is_empty() {
        record_reports(leader, node, &reports).await.unwrap();
    }
}

/// Runs the agent of `node` until `service` has `count` running tasks.
async fn until_running(leader: &TestLeader, node: &str, service: &str, count: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        agent_step(leader, node).await;
        let tables = leader.tables();
        let view = views::service_view(&tables, tables.services[service].clone());
        if view.running == count {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {count} running tasks (have {})",
            view.running
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_runs_a_service_and_replaces_a_failed_task_after_the_restart_delay() {
    let leader = TestLeader::start().await;
    leader.add_node("node1").await;
    let manager_loop = tokio::spawn(run(leader.clone()));

    let mut spec = ServiceSpec::new("web", "busybox:latest");
    spec.mode = ServiceMode::Replicated { replicas: 3 };
    spec.task.restart_policy = RestartPolicy {
        delay: Span::from_millis(300),
        ..RestartPolicy::default()
    };
    let id = api::create_service(&*leader, spec).await.unwrap().id;
    until_running(&leader, "node1", &id, 3).await;

    let victim = leader.tables().tasks.values().next().unwrap().clone();
    record_reports(&*leader, "node1", &[report(&victim, TaskState::Failed)])
        .await
        .unwrap();
    until_running(&leader, "node1", &id, 3).await;

    let tables = leader.tables();
    let failed = &tables.tasks[&victim.id];
    assert_eq!(failed.status.state, TaskState::Failed, "kept as history");
    assert_eq!(failed.desired_state, TaskState::Shutdown);
    let replacement = tables
        .tasks
        .values()
        .find(|t| t.slot == victim.slot && t.id != victim.id)
        .expect("a replacement in the same slot");
    let waited = replacement.status.timestamp.0 - failed.status.timestamp.0;
    assert!(
        waited >= 300,
        "replaced after {waited} ms, before the delay"
    );
    manager_loop.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_only_move_tasks_of_the_reporting_node_forward() {
    let leader = TestLeader::start().await;
    let task = assigned_task(&leader).await;
    let send = async |node: &str, state: TaskState| {
        let reports = [report(&task, state)];
        record_reports(&*leader, node, &reports).await.unwrap()
    };
    let stranger = send("node2", TaskState::Running).await;
    assert_eq!(stranger, 0, "another node's report is ignored");
    assert_eq!(send("node1", TaskState::Running).await, 1);
    let backward = send("node1", TaskState::Starting).await;
    assert_eq!(backward, 0, "states never go back");
    assert_eq!(send("node1", TaskState::Failed).await, 1);
    let after_end = send("node1", TaskState::Complete).await;
    assert_eq!(after_end, 0, "terminal states are final");
    assert_eq!(
        leader.tables().tasks[&task.id].status.state,
        TaskState::Failed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_message_and_error_are_stored_cut_to_their_bound() {
    let leader = TestLeader::start().await;
    let task = assigned_task(&leader).await;
    let mut failed = report(&task, TaskState::Failed);
    failed.status.message = "m".repeat(64 * 1024);
    failed.status.err = Some("e".repeat(64 * 1024));
    let changed = record_reports(&*leader, "node1", &[failed]).await.unwrap();
    assert_eq!(changed, 1);
    let stored = leader.tables().tasks[&task.id].status.clone();
    assert_eq!(stored.state, TaskState::Failed);
    let err = stored.err.expect("the error is kept");
    for (field, text) in [("message", &stored.message), ("err", &err)] {
        assert!(
            text.len() <= MAX_STATUS_TEXT_LEN && text.ends_with(TRUNCATED_MARKER),
            "the stored {field} of a 64 KiB report is {} bytes, not cut to {MAX_STATUS_TEXT_LEN}",
            text.len()
        );
    }
}

/// A task of a new service `svc`, assigned to `node1`, in the store.
async fn assigned_task(leader: &TestLeader) -> Task {
    leader.add_node("node1").await;
    let service = Service::new("svc", ServiceSpec::new("web", "busybox:latest"));
    let key = SlotKey::Replica(1);
    let mut task = new_task(
        &service,
        &key,
        TaskState::Running,
        Timestamp(0),
        "t1".to_owned(),
    );
    task.node_id = Some("node1".to_owned());
    task.status.state = TaskState::Assigned;
    let command = put(TASKS, &task.id, &task).unwrap();
    leader.store().propose(command).await.unwrap();
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_arriving_together_are_committed_in_one_raft_entry() {
    const NODES_REPORTING: usize = 40;
    let leader = TestLeader::start().await;
    let service = Service::new("svc", ServiceSpec::new("web", "busybox:latest"));
    let mut commands = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..NODES_REPORTING {
        let key = SlotKey::Replica(i as u64 + 1);
        let mut task = new_task(
            &service,
            &key,
            TaskState::Running,
            Timestamp(0),
            format!("t{i}"),
        );
        task.node_id = Some(format!("node{i}"));
        task.status.state = TaskState::Assigned;
        commands.push(put(TASKS, &task.id, &task).unwrap());
        tasks.push(task);
    }
    leader
        .store()
        .propose(shoal_raft::Command::Batch(commands))
        .await
        .unwrap();
    // Every node reports while the write lock is taken (a proposal in
    // flight): they all wait, then go in together.
    let held = leader.writes().lock().await;
    let before = leader.store().applied_index().unwrap_or_default();
    let calls: Vec<_> = tasks
        .iter()
        .map(|task| {
            let (leader, task) = (leader.clone(), task.clone());
            tokio::spawn(async move {
                let node = task.node_id.clone().unwrap();
                let reports = [report(&task, TaskState::Running)];
                record_reports(&*leader, &node, &reports).await.unwrap()
            })
        })
        .collect();
    eventually("every report batch waiting", || {
        (leader.reports().len() == NODES_REPORTING).then_some(())
    })
    .await;
    drop(held);
    for call in calls {
        assert_eq!(call.await.unwrap(), 1, "each node's own task moved");
    }
    let entries = leader.store().applied_index().unwrap_or_default() - before;
    assert_eq!(
        entries, 1,
        "{NODES_REPORTING} nodes' reports took {entries} raft entries"
    );
    let tables = leader.tables();
    assert!(
        tables
            .tasks
            .values()
            .all(|t| t.status.state == TaskState::Running)
    );
    assert!(leader.reports().is_empty());
}
