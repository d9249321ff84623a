//! A benchmark entry point without a harness: `cargo xtask` (or a test)
//! builds a synthetic cluster and times one scheduling pass.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shoal_model::spec::{
    SchedNode, Service, ServiceMode, ServiceSpec, Task, TaskState, TaskStatus, Timestamp,
};

/// Tasks per synthetic service (many services make the benchmark pay the
/// per-group cost too, not only the per-task one).
const TASKS_PER_SERVICE: usize = 100;

/// A cluster of `nodes` ready, active workers and `tasks` pending tasks in
/// services of up to 100 replicas each, without constraints.
pub fn bench_cluster(
    nodes: usize,
    tasks: usize,
) -> (Vec<SchedNode>, BTreeMap<String, Service>, Vec<Task>) {
    let node_views: Vec<SchedNode> = (0..nodes)
        .map(|i| SchedNode::worker(&format!("node{i:05}")))
        .collect();
    let mut services = BTreeMap::new();
    let mut all_tasks = Vec::with_capacity(tasks);
    for (s, first) in (0..tasks).step_by(TASKS_PER_SERVICE).enumerate() {
        let count = TASKS_PER_SERVICE.min(tasks - first);
        let id = format!("svc{s:05}");
        let mut spec = ServiceSpec::new(&id, "busybox");
        spec.mode = ServiceMode::Replicated {
            replicas: count as u64,
        };
        let service = Service::new(&id, spec);
        for slot in 1..=count as u64 {
            all_tasks.push(Task {
                id: format!("{id}.{slot}"),
                service_id: id.clone(),
                slot,
                node_id: None,
                desired_state: TaskState::Running,
                status: TaskStatus {
                    state: TaskState::Pending,
                    timestamp: Timestamp(0),
                    ..TaskStatus::default()
                },
                spec: service.spec.task.clone(),
                spec_version: service.version,
                networks: Vec::new(),
            });
        }
        services.insert(id, service);
    }
    (node_views, services, all_tasks)
}

/// Time one [`super::schedule`] pass over [`bench_cluster`]`(nodes, tasks)`
/// (building the cluster is not timed).
pub fn bench_schedule(nodes: usize, tasks: usize) -> Duration {
    let (nodes, services, tasks) = bench_cluster(nodes, tasks);
    let started = Instant::now();
    let decisions = super::schedule(&nodes, &services, &tasks);
    let elapsed = started.elapsed();
    std::hint::black_box(decisions);
    elapsed
}
