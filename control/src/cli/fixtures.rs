//! Services and tasks for the CLI's unit tests, as the daemon would
//! answer them.

use shoal_control::api::{ServiceView, TaskView};
use shoal_control::spec::{
    Service, ServiceMode, ServiceSpec, Task, TaskState, TaskStatus, Timestamp,
};

/// Service `web` (ID `svc0123456789abcdef`) at version 1 with `replicas`
/// tasks wanted and none running.
pub fn service(replicas: u64) -> ServiceView {
    let mut spec = ServiceSpec::new("web", "nginx:1");
    spec.mode = ServiceMode::Replicated { replicas };
    ServiceView {
        service: Service::new("svc0123456789abcdef", spec),
        endpoint: None,
        running: 0,
        desired: replicas,
        created_at: 0,
        updated_at: 0,
    }
}

/// Global service `agent` wanted on `nodes` nodes.
pub fn global_service(nodes: u64) -> ServiceView {
    let mut view = service(0);
    view.service.spec.name = "agent".into();
    view.service.spec.mode = ServiceMode::Global;
    view.desired = nodes;
    view
}

/// A task of `service` made from its current template, in slot `slot`,
/// desired running, observed `state` since `at` (ms).
pub fn task(service: &ServiceView, id: &str, slot: u64, state: TaskState, at: u64) -> TaskView {
    let spec = &service.service.spec;
    TaskView {
        task: Task {
            id: id.to_owned(),
            service_id: service.service.id.clone(),
            slot,
            node_id: Some("node1abcdefghijkl".into()),
            desired_state: TaskState::Running,
            status: TaskStatus {
                state,
                message: String::new(),
                err: None,
                timestamp: Timestamp(at),
            },
            spec: spec.task.clone(),
            spec_version: service.service.version,
            networks: Vec::new(),
        },
        name: format!("{}.{slot}", spec.name),
        service_name: spec.name.clone(),
        node_hostname: Some("node-1".into()),
        node_down: false,
    }
}

/// A task of a global service on node `node`.
pub fn node_task(service: &ServiceView, id: &str, node: &str, state: TaskState) -> TaskView {
    let mut view = task(service, id, 0, state, 1_000);
    view.task.node_id = Some(node.to_owned());
    view.node_hostname = Some(format!("host-{node}"));
    view.name = format!("{}.{node}", service.service.spec.name);
    view
}

/// `view` made from an older template (image `nginx:0`, version 0).
pub fn outdated(mut view: TaskView) -> TaskView {
    view.task.spec.image = "nginx:0".into();
    view.task.spec_version = 0;
    view
}

/// `view` ended in `state` with `err`, shut down by the managers.
pub fn ended(mut view: TaskView, state: TaskState, err: Option<&str>) -> TaskView {
    view.task.desired_state = TaskState::Shutdown;
    view.task.status.state = state;
    view.task.status.err = err.map(str::to_owned);
    view
}
