//! Rolling updates through the pass.

use std::time::Duration;

use super::Sim;
use shoal_model::spec::{ServiceMode, ServiceSpec, UpdateOrder, UpdateState};

#[test]
fn a_start_first_update_replaces_every_task_without_dropping_below_the_replicas() {
    let mut sim = Sim::new(&["n1", "n2", "n3"]);
    let mut spec = ServiceSpec::new("web", "busybox:1");
    spec.mode = ServiceMode::Replicated { replicas: 3 };
    spec.update_config.order = UpdateOrder::StartFirst;
    spec.update_config.parallelism = 1;
    let web = sim.add_service(spec.clone());
    sim.settle();

    spec.task.image = "busybox:2".to_owned();
    let now = sim.now;
    sim.service_mut(&web).begin_update(spec, now);
    for _ in 0..60 {
        sim.pass();
        sim.agents();
        assert!(
            sim.running(&web).len() >= 3,
            "a start-first update never runs fewer tasks than replicas"
        );
        sim.advance(Duration::from_millis(500));
    }

    let running = sim.running(&web);
    assert_eq!(running.len(), 3);
    assert!(running.iter().all(|t| t.spec.image == "busybox:2"));
    let status = sim.tables.services[&web].update_status.clone().unwrap();
    assert_eq!(status.state, UpdateState::Completed);
}

#[test]
fn a_forced_update_counter_replaces_tasks_with_an_unchanged_image() {
    let mut sim = Sim::new(&["n1"]);
    let spec = ServiceSpec::new("web", "busybox:1");
    let web = sim.add_service(spec.clone());
    sim.settle();
    let first = sim.running(&web)[0].id.clone();

    let mut forced = spec;
    forced.task.force_update = 1;
    let now = sim.now;
    sim.service_mut(&web).begin_update(forced, now);
    for _ in 0..30 {
        sim.pass();
        sim.agents();
        sim.advance(Duration::from_millis(500));
    }

    let running = sim.running(&web);
    assert_eq!(running.len(), 1);
    assert_ne!(running[0].id, first, "the task was replaced");
}
