//! Decisions for tasks in every combination that matters.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::*;
use shoal_model::spec::{NetworkAttachment, ServiceSpec, Task, TaskStatus};
use shoal_runtime::ExitStatus;

fn assigned(desired: TaskState, stored: TaskState) -> AssignedTask {
    AssignedTask {
        task: Task {
            id: "t1".to_owned(),
            service_id: "s".to_owned(),
            slot: 1,
            node_id: Some("n1".to_owned()),
            desired_state: desired,
            status: TaskStatus {
                state: stored,
                ..TaskStatus::default()
            },
            spec: ServiceSpec::new("web", "busybox").task,
            spec_version: 1,
            networks: Vec::new(),
        },
        name: "web.1".to_owned(),
        secrets: Vec::new(),
        configs: Vec::new(),
    }
}

fn container(status: Status, exit: Option<i32>) -> ContainerState {
    ContainerState {
        id: "t1".to_owned(),
        image: "busybox".to_owned(),
        status,
        pid: None,
        exit: exit.map(|code| ExitStatus { code, signal: None }),
        oom_killed: false,
        netns: PathBuf::from("/run/netns/shoal-t1"),
    }
}

fn reported(decision: Decision) -> (TaskState, Option<String>) {
    match decision {
        Decision::Report { state, err, .. } => (state, err),
        other => panic!("expected a report, got {other:?}"),
    }
}

use TaskState::{Assigned, Complete, Failed, Running, Shutdown, Starting};

#[test]
fn a_wanted_task_without_a_container_is_started_once_its_addresses_exist() {
    let mut task = assigned(Running, Assigned);
    assert_eq!(decide(&task, None, &TaskMemory::default()), Decision::Start);
    task.task.networks.push(NetworkAttachment {
        network: "front".to_owned(),
        ip: None,
    });
    assert_eq!(
        decide(&task, None, &TaskMemory::default()),
        Decision::Nothing
    );
    task.task.networks[0].ip = Some(Ipv4Addr::new(10, 0, 1, 5));
    assert_eq!(decide(&task, None, &TaskMemory::default()), Decision::Start);
}

#[test]
fn exits_are_reported_with_their_code() {
    let task = assigned(Running, Running);
    let memory = TaskMemory::default();
    let done = container(Status::Stopped, Some(0));
    assert_eq!(
        reported(decide(&task, Some(&done), &memory)),
        (Complete, None)
    );
    let crashed = container(Status::Stopped, Some(3));
    assert_eq!(
        reported(decide(&task, Some(&crashed), &memory)),
        (Failed, Some("task: non-zero exit (3)".to_owned()))
    );
    let unhealthy = TaskMemory {
        unhealthy: true,
        ..TaskMemory::default()
    };
    let killed = container(Status::Stopped, Some(137));
    assert_eq!(
        reported(decide(&task, Some(&killed), &unhealthy)),
        (Failed, Some("unhealthy container".to_owned()))
    );
    let oom = ContainerState {
        oom_killed: true,
        ..container(Status::Stopped, Some(137))
    };
    assert_eq!(
        reported(decide(&task, Some(&oom), &memory)),
        (
            Failed,
            Some(
                "task: non-zero exit (137): OOM-killed (out of memory under its limit)".to_owned()
            )
        )
    );
}

#[test]
fn an_ended_task_is_never_restarted_by_the_agent() {
    // Failed in the store, still desired running (the orchestrator has not
    // replaced it yet): the agent leaves it alone.
    let task = assigned(Running, Failed);
    assert_eq!(
        decide(&task, None, &TaskMemory::default()),
        Decision::Nothing
    );
    let ended = TaskMemory {
        ended: true,
        ..TaskMemory::default()
    };
    let fresh = assigned(Running, Assigned);
    assert_eq!(decide(&fresh, None, &ended), Decision::Nothing);
}

#[test]
fn shutdown_drains_a_running_container_and_reports_once_stopped() {
    let task = assigned(Shutdown, Running);
    let running = container(Status::Running, None);
    assert_eq!(
        decide(&task, Some(&running), &TaskMemory::default()),
        Decision::Stop { drain: true }
    );
    let created = container(Status::Created, None);
    assert_eq!(
        decide(&task, Some(&created), &TaskMemory::default()),
        Decision::Stop { drain: false }
    );
    let stopped = container(Status::Stopped, Some(143));
    assert_eq!(
        reported(decide(&task, Some(&stopped), &TaskMemory::default())),
        (Shutdown, None)
    );
    // Never started: shut down without a container.
    let waiting = assigned(Shutdown, Assigned);
    assert_eq!(
        reported(decide(&waiting, None, &TaskMemory::default())),
        (Shutdown, None)
    );
}

#[test]
fn a_running_container_with_a_check_is_starting_until_healthy() {
    let task = assigned(Running, Starting);
    let running = container(Status::Running, None);
    assert_eq!(
        reported(decide(&task, Some(&running), &TaskMemory::default())),
        (Running, None)
    );
    let policy = super::super::health::HealthPolicy {
        argv: vec!["true".to_owned()],
        interval: std::time::Duration::from_secs(1),
        timeout: std::time::Duration::from_secs(1),
        retries: 1,
        start_period: std::time::Duration::ZERO,
    };
    let mut memory = TaskMemory {
        health: Some(HealthState::new(&policy, std::time::Instant::now(), false)),
        ..TaskMemory::default()
    };
    assert_eq!(
        reported(decide(&task, Some(&running), &memory)),
        (Starting, None)
    );
    if let Some(health) = memory.health.as_mut() {
        health.record(&policy, true, std::time::Instant::now());
    }
    assert_eq!(
        reported(decide(&task, Some(&running), &memory)),
        (Running, None)
    );
}

#[test]
fn a_running_task_whose_container_vanished_fails() {
    let task = assigned(Running, Running);
    assert_eq!(
        reported(decide(&task, None, &TaskMemory::default())),
        (Failed, Some("task: container is gone".to_owned()))
    );
}
