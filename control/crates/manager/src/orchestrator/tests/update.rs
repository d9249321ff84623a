use std::time::Duration;

use super::*;
use shoal_model::spec::{FailureAction, Span, UpdateConfig, UpdateOrder, UpdateState};

/// A settled 4-replica service, then `begin_update` to a new image with
/// `config`.
fn updating(config: UpdateConfig) -> Sim {
    let mut sim = Sim::replicated(4, &["a", "b", "c", "d"]);
    sim.service.spec.task.restart_policy.condition = shoal_model::spec::RestartCondition::None;
    sim.settle();
    let mut spec = sim.service.spec.clone();
    spec.task.image = "nginx:2".into();
    spec.update_config = config;
    sim.service.begin_update(spec, sim.now);
    sim
}

fn creates(step: &UpdateStep) -> Vec<&Task> {
    match step {
        UpdateStep::Advance(actions) => actions
            .iter()
            .filter_map(|a| match a {
                Action::Create(task) => Some(task.as_ref()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn shutdowns(step: &UpdateStep) -> usize {
    match step {
        UpdateStep::Advance(actions) => actions
            .iter()
            .filter(|a| matches!(a, Action::Shutdown { .. }))
            .count(),
        _ => 0,
    }
}

fn images(sim: &Sim) -> Vec<String> {
    (1..=4)
        .map(|slot| sim.in_slot(slot).spec.image.clone())
        .collect()
}

#[test]
fn start_first_with_parallelism_two_starts_new_tasks_before_stopping_old_ones() {
    let config = UpdateConfig {
        parallelism: 2,
        order: UpdateOrder::StartFirst,
        ..UpdateConfig::default()
    };
    let mut sim = updating(config);
    let first = sim.update_step();
    let created = creates(&first);
    assert_eq!(created.len(), 2);
    assert_eq!(shutdowns(&first), 0, "start-first stops nothing yet");
    assert!(
        created
            .iter()
            .all(|t| t.desired_state == TaskState::Running && t.spec.image == "nginx:2")
    );
    assert_eq!(
        sim.update_step(),
        UpdateStep::Wait { until: None },
        "new tasks not running yet"
    );
    sim.schedule_and_run();
    let second = sim.update_step();
    assert_eq!(
        (creates(&second).len(), shutdowns(&second)),
        (0, 2),
        "old tasks go once new ones run"
    );
    sim.schedule_and_run();
    let third = sim.update_step();
    assert_eq!(creates(&third).len(), 2, "second batch");
    let steps = sim.drive_update();
    assert!(steps.contains(&UpdateStep::Complete), "{steps:#?}");
    assert_eq!(images(&sim), vec!["nginx:2"; 4]);
    let status = sim.service.update_status.as_ref().expect("status");
    assert_eq!(
        (status.state, status.message.as_str()),
        (UpdateState::Completed, "update completed")
    );
    assert_eq!(sim.running_per_node().values().sum::<usize>(), 4);
}

#[test]
fn stop_first_prepares_the_new_task_and_starts_it_once_the_old_one_stopped() {
    let mut sim = updating(UpdateConfig::default());
    let first = sim.update_step();
    assert_eq!(shutdowns(&first), 1);
    let created = creates(&first);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].desired_state, TaskState::Ready);
    let new_id = created[0].id.clone();
    sim.schedule_and_run();
    assert_eq!(
        sim.update_step(),
        UpdateStep::Advance(vec![Action::Start { task_id: new_id }])
    );
    let steps = sim.drive_update();
    assert!(steps.contains(&UpdateStep::Complete));
    assert_eq!(images(&sim), vec!["nginx:2"; 4]);
}

#[test]
fn batches_wait_for_the_delay_and_the_end_for_the_monitor_period() {
    let config = UpdateConfig {
        parallelism: 4,
        delay: Span::from_secs(10),
        order: UpdateOrder::StartFirst,
        monitor: Span::from_secs(30),
        ..UpdateConfig::default()
    };
    let mut sim = updating(config);
    assert_eq!(creates(&sim.update_step()).len(), 4);
    sim.schedule_and_run();
    sim.update_step();
    sim.schedule_and_run();
    let running_at = sim.now;
    assert_eq!(
        sim.update_step(),
        UpdateStep::Wait {
            until: Some(running_at.after(Duration::from_secs(30)))
        }
    );
    sim.advance(Duration::from_secs(30));
    assert_eq!(sim.update_step(), UpdateStep::Complete);
    assert_eq!(sim.update_step(), UpdateStep::Idle);
}

#[test]
fn a_delay_separates_batches() {
    let config = UpdateConfig {
        delay: Span::from_secs(10),
        order: UpdateOrder::StartFirst,
        ..UpdateConfig::default()
    };
    let mut sim = updating(config);
    sim.update_step();
    sim.schedule_and_run();
    sim.update_step();
    sim.schedule_and_run();
    let until = sim.now.after(Duration::from_secs(10));
    assert_eq!(sim.update_step(), UpdateStep::Wait { until: Some(until) });
    sim.advance(Duration::from_secs(10));
    assert_eq!(creates(&sim.update_step()).len(), 1);
}

#[test]
fn failures_past_the_ratio_roll_back_to_the_previous_spec() {
    let config = UpdateConfig {
        parallelism: 2,
        order: UpdateOrder::StartFirst,
        failure_action: FailureAction::Rollback,
        max_failure_ratio: 0.25,
        ..UpdateConfig::default()
    };
    let mut sim = updating(config);
    let new: Vec<String> = creates(&sim.update_step())
        .iter()
        .map(|t| t.id.clone())
        .collect();
    sim.schedule_and_run();
    sim.fail(&new[0], TaskState::Failed);
    let within_ratio = sim.update_step();
    assert!(
        !matches!(within_ratio, UpdateStep::Rollback { .. }),
        "1 of 4 is not above 0.25"
    );
    sim.fail(&new[1], TaskState::Failed);
    let expected = format!(
        "update rolled back due to failure or early termination of task {}",
        new[1]
    );
    assert_eq!(
        sim.update_step(),
        UpdateStep::Rollback {
            message: expected.clone()
        }
    );
    assert_eq!(sim.service.spec.task.image, "nginx:1");
    let status = sim.service.update_status.clone().expect("status");
    assert_eq!(
        (status.state, status.message),
        (UpdateState::RollbackStarted, expected)
    );
    let steps = sim.drive_update();
    assert!(steps.contains(&UpdateStep::Complete), "{steps:#?}");
    assert_eq!(images(&sim), vec!["nginx:1"; 4]);
    assert_eq!(
        sim.service.update_status.expect("status").state,
        UpdateState::RollbackCompleted
    );
}

#[test]
fn failure_action_pause_stops_the_update() {
    let config = UpdateConfig {
        order: UpdateOrder::StartFirst,
        ..UpdateConfig::default()
    };
    let mut sim = updating(config);
    let new = creates(&sim.update_step())[0].id.clone();
    sim.schedule_and_run();
    sim.fail(&new, TaskState::Failed);
    assert!(matches!(sim.update_step(), UpdateStep::Pause { .. }));
    let status = sim.service.update_status.clone().expect("status");
    assert_eq!(status.state, UpdateState::Paused);
    assert!(
        status.message.starts_with("update paused due to failure"),
        "{}",
        status.message
    );
    assert_eq!(sim.update_step(), UpdateStep::Idle);
}

#[test]
fn failure_action_continue_finishes_despite_failures() {
    let config = UpdateConfig {
        failure_action: FailureAction::Continue,
        order: UpdateOrder::StartFirst,
        ..UpdateConfig::default()
    };
    let mut sim = updating(config);
    let new = creates(&sim.update_step())[0].id.clone();
    sim.schedule_and_run();
    sim.fail(&new, TaskState::Failed);
    let steps = sim.drive_update();
    assert!(steps.contains(&UpdateStep::Complete), "{steps:#?}");
}
