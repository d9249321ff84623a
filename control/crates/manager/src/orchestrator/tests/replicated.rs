use std::time::Duration;

use super::*;
use shoal_model::node::Availability;
use shoal_model::spec::{RestartCondition, RestartPolicy, Span};

#[test]
fn six_replicas_run_two_per_node() {
    let mut sim = Sim::replicated(6, &["a", "b", "c"]);
    sim.settle();
    assert_eq!(
        sim.running_per_node(),
        counts(&[("a", 2), ("b", 2), ("c", 2)])
    );
    assert_eq!(sim.wanted_slots(), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(
        sim.reconcile(),
        Plan::default(),
        "a converged service needs nothing"
    );
}

#[test]
fn scale_up_fills_new_slots_and_scale_down_removes_the_highest() {
    let mut sim = Sim::replicated(6, &["a", "b", "c"]);
    sim.settle();
    let mut spec = sim.service.spec.clone();
    spec.mode = ServiceMode::Replicated { replicas: 10 };
    sim.service.begin_update(spec.clone(), sim.now);
    assert_eq!(
        sim.service.update_status, None,
        "scaling is not a rolling update"
    );
    sim.settle();
    assert_eq!(sim.wanted_slots(), (1..=10).collect::<Vec<_>>());
    assert_eq!(sim.running_per_node().values().sum::<usize>(), 10);
    let kept: Vec<String> = [1, 2].iter().map(|&s| sim.in_slot(s).id.clone()).collect();
    spec.mode = ServiceMode::Replicated { replicas: 2 };
    sim.service.begin_update(spec, sim.now);
    let plan = sim.reconcile();
    assert_eq!(plan.actions.len(), 8);
    assert!(
        plan.actions
            .iter()
            .all(|a| matches!(a, Action::Shutdown { .. }))
    );
    sim.settle();
    assert_eq!(sim.wanted_slots(), vec![1, 2]);
    assert_eq!(
        vec![sim.in_slot(1).id.clone(), sim.in_slot(2).id.clone()],
        kept
    );
    assert_eq!(sim.running_per_node().values().sum::<usize>(), 2);
}

#[test]
fn on_failure_restarts_after_the_delay_up_to_max_attempts() {
    let mut sim = Sim::replicated(1, &["a"]);
    sim.service.spec.task.restart_policy = RestartPolicy {
        condition: RestartCondition::OnFailure,
        delay: Span::from_secs(5),
        max_attempts: 2,
        window: Span::ZERO,
    };
    sim.settle();
    for attempt in 1..=2 {
        let failed = sim.in_slot(1).id.clone();
        sim.fail(&failed, TaskState::Failed);
        let plan = sim.reconcile();
        assert!(
            plan.actions.is_empty(),
            "attempt {attempt}: waits for the delay"
        );
        assert_eq!(plan.wake_at, Some(sim.now.after(Duration::from_secs(5))));
        sim.advance(Duration::from_secs(5));
        sim.settle();
        let replacement = sim.in_slot(1);
        assert_ne!(replacement.id, failed);
        assert_eq!(replacement.status.state, TaskState::Running);
    }
    let last = sim.in_slot(1).id.clone();
    sim.fail(&last, TaskState::Failed);
    sim.advance(Duration::from_secs(60));
    assert_eq!(sim.reconcile(), Plan::default(), "attempts used up");
    assert_eq!(sim.in_slot(1).id, last, "the failed task keeps its slot");
}

#[test]
fn on_failure_leaves_completed_tasks_and_none_never_restarts() {
    let mut sim = Sim::replicated(1, &["a"]);
    sim.service.spec.task.restart_policy.condition = RestartCondition::OnFailure;
    sim.settle();
    let done = sim.in_slot(1).id.clone();
    sim.fail(&done, TaskState::Complete);
    sim.advance(Duration::from_secs(60));
    assert_eq!(sim.reconcile(), Plan::default());
    sim.service.spec.task.restart_policy.condition = RestartCondition::None;
    sim.fail(&done, TaskState::Failed);
    assert_eq!(sim.reconcile(), Plan::default());
}

#[test]
fn restarts_outside_the_window_no_longer_count() {
    let mut sim = Sim::replicated(1, &["a"]);
    sim.service.spec.task.restart_policy = RestartPolicy {
        condition: RestartCondition::Any,
        delay: Span::ZERO,
        max_attempts: 1,
        window: Span::from_secs(60),
    };
    sim.settle();
    let first = sim.in_slot(1).id.clone();
    sim.fail(&first, TaskState::Failed);
    sim.settle();
    let second = sim.in_slot(1).id.clone();
    assert_ne!(first, second);
    sim.advance(Duration::from_secs(10));
    sim.fail(&second, TaskState::Failed);
    assert_eq!(
        sim.reconcile(),
        Plan::default(),
        "one restart within the window"
    );
    sim.advance(Duration::from_secs(120));
    sim.settle();
    assert_eq!(sim.in_slot(1).status.state, TaskState::Running);
}

#[test]
fn drained_node_tasks_move_elsewhere() {
    let mut sim = Sim::replicated(6, &["a", "b", "c"]);
    sim.settle();
    sim.node_mut("b").availability = Availability::Drain;
    sim.settle();
    assert_eq!(sim.running_per_node(), counts(&[("a", 3), ("c", 3)]));
    assert_eq!(sim.wanted_slots(), vec![1, 2, 3, 4, 5, 6]);
    let on_b = sim
        .tasks
        .iter()
        .filter(|t| t.node_id.as_deref() == Some("b"));
    assert!(
        on_b.clone().count() == 2
            && on_b
                .into_iter()
                .all(|t| t.status.state == TaskState::Shutdown)
    );
}

#[test]
fn down_node_tasks_are_rescheduled() {
    let mut sim = Sim::replicated(4, &["a", "b"]);
    sim.settle();
    sim.node_mut("a").status = NodeStatus::Down;
    sim.settle();
    assert_eq!(
        sim.running_per_node(),
        counts(&[("a", 2), ("b", 4)]),
        "a's tasks never reported stopping"
    );
    let wanted_on_b = sim
        .tasks
        .iter()
        .filter(|t| t.is_wanted() && t.node_id.as_deref() == Some("b"));
    assert_eq!(wanted_on_b.count(), 4);
}
