use shoal_control::spec::{TaskState, Timestamp, UpdateState, UpdateStatus};

use super::*;
use crate::cli::fixtures::{ended, outdated, service, task};

const TIMEOUT: Span = Span::from_secs(60);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn status(state: UpdateState, started_at: u64, message: &str) -> UpdateStatus {
    UpdateStatus {
        state,
        started_at: Timestamp(started_at),
        completed_at: None,
        message: message.to_owned(),
    }
}

#[test]
fn converged_only_after_staying_so_for_two_seconds() {
    let web = service(1);
    let running = vec![task(&web, "a", 1, TaskState::Running, 0)];
    let starting = vec![task(&web, "a", 1, TaskState::Starting, 0)];
    let mut watcher = Watcher::new(None, false, TIMEOUT);
    let (lines, outcome) = watcher.observe(&web, &running, secs(0.0));
    assert_eq!(outcome, Outcome::Waiting);
    assert_eq!(
        lines.last().map(|l| l.text.as_str()),
        Some("verify: Waiting 2 seconds to verify that tasks are stable...")
    );
    let (lines, _) = watcher.observe(&web, &running, secs(1.2));
    assert!(lines.last().unwrap().text.contains("Waiting 1 seconds"));
    // It flapped: the two seconds start again.
    let (lines, outcome) = watcher.observe(&web, &starting, secs(1.5));
    assert_eq!(outcome, Outcome::Waiting);
    assert!(!lines.iter().any(|l| l.key == "verify"));
    assert_eq!(
        watcher.observe(&web, &running, secs(2.0)).1,
        Outcome::Waiting
    );
    assert_eq!(
        watcher.observe(&web, &running, secs(3.9)).1,
        Outcome::Waiting
    );
    let (lines, outcome) = watcher.observe(&web, &running, secs(4.0));
    assert_eq!(outcome, Outcome::Converged);
    assert_eq!(lines.last().unwrap().text, "verify: Service converged");
}

#[test]
fn an_old_task_still_serving_holds_convergence_until_it_stops() {
    let web = service(1);
    let new = task(&web, "b", 1, TaskState::Running, 0);
    // The update's old task: told to stop, still running (draining).
    let mut old = outdated(task(&web, "a", 1, TaskState::Running, 0));
    old.task.desired_state = TaskState::Shutdown;
    let mut watcher = Watcher::new(None, false, TIMEOUT);
    let serving = vec![new.clone(), old.clone()];
    for at in [0.0, 2.5, 5.0] {
        let (lines, outcome) = watcher.observe(&web, &serving, secs(at));
        assert_eq!(outcome, Outcome::Waiting, "at {at} s");
        assert!(!lines.iter().any(|l| l.key == "verify"), "{lines:?}");
    }
    let stopped = vec![new.clone(), ended(old.clone(), TaskState::Shutdown, None)];
    assert_eq!(
        watcher.observe(&web, &stopped, secs(6.0)).1,
        Outcome::Waiting
    );
    assert_eq!(
        watcher.observe(&web, &stopped, secs(8.0)).1,
        Outcome::Converged
    );
    // A down node's task never reports its stop: it does not hold it.
    let mut lost = old;
    lost.node_down = true;
    let mut watcher = Watcher::new(None, false, TIMEOUT);
    let with_lost = vec![new, lost];
    assert_eq!(
        watcher.observe(&web, &with_lost, secs(0.0)).1,
        Outcome::Waiting
    );
    assert_eq!(
        watcher.observe(&web, &with_lost, secs(2.0)).1,
        Outcome::Converged
    );
}

#[test]
fn a_paused_update_fails_with_its_message() {
    let mut web = service(1);
    web.service.update_status = Some(status(
        UpdateState::Paused,
        5,
        "update paused due to failure or early termination of task x",
    ));
    let mut watcher = Watcher::new(None, false, TIMEOUT);
    let (_, outcome) = watcher.observe(&web, &[], secs(0.0));
    let Outcome::Failed(err) = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert_eq!(
        err.to_string(),
        "update paused: update paused due to failure or early termination of task x"
    );
}

#[test]
fn an_automatic_rollback_fails_an_update_but_not_a_requested_rollback() {
    let mut web = service(1);
    let tasks = vec![task(&web, "a", 1, TaskState::Running, 0)];
    let updating = status(UpdateState::Updating, 5, "update in progress");
    let rolled = status(UpdateState::RollbackCompleted, 9, "rollback completed");
    web.service.update_status = Some(rolled.clone());
    let mut update = Watcher::new(Some(updating), false, TIMEOUT);
    assert!(matches!(
        update.observe(&web, &tasks, secs(0.0)).1,
        Outcome::Failed(WatchError::RolledBack { .. })
    ));
    // The same rollback status from before the change is old news.
    let mut scale = Watcher::new(Some(rolled.clone()), false, TIMEOUT);
    assert_eq!(scale.observe(&web, &tasks, secs(0.0)).1, Outcome::Waiting);
    assert_eq!(scale.observe(&web, &tasks, secs(2.0)).1, Outcome::Converged);
    let requested = status(
        UpdateState::RollbackStarted,
        9,
        "manually requested rollback",
    );
    let mut rollback = Watcher::new(Some(requested), true, TIMEOUT);
    assert_eq!(
        rollback.observe(&web, &tasks, secs(0.0)).1,
        Outcome::Waiting
    );
    assert_eq!(
        rollback.observe(&web, &tasks, secs(2.5)).1,
        Outcome::Converged
    );
}

#[test]
fn the_deadline_fails_with_the_task_errors() {
    let web = service(2);
    let mut pending = task(&web, "b", 2, TaskState::Pending, 0);
    pending.task.status.err = Some("no suitable node (insufficient resources on 1 node)".into());
    let tasks = vec![task(&web, "a", 1, TaskState::Running, 0), pending];
    let mut watcher = Watcher::new(None, false, Span::from_secs(10));
    assert_eq!(watcher.observe(&web, &tasks, secs(9.9)).1, Outcome::Waiting);
    let (_, outcome) = watcher.observe(&web, &tasks, secs(10.0));
    let Outcome::Failed(err) = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert_eq!(
        err.to_string(),
        "service did not converge within 10s:\nweb.2: no suitable node (insufficient resources on 1 node)"
    );
}

fn frame(running: u64) -> Vec<Line> {
    vec![
        Line::new(
            "overall",
            format!("overall progress: {running} out of 2 tasks"),
        ),
        Line::new("1/2", "1/2: running".to_owned()),
    ]
}

#[test]
fn logs_get_only_the_lines_that_changed() {
    let mut printer = Printer::new(false);
    assert_eq!(
        printer.draw(&frame(0)),
        "overall progress: 0 out of 2 tasks\n1/2: running\n"
    );
    assert_eq!(printer.draw(&frame(0)), "");
    assert_eq!(
        printer.draw(&frame(1)),
        "overall progress: 1 out of 2 tasks\n"
    );
}

#[test]
fn terminals_get_the_frame_redrawn_in_place() {
    let mut printer = Printer::new(true);
    let first = printer.draw(&frame(0));
    assert!(!first.contains('\x1b'));
    let second = printer.draw(&frame(1));
    assert_eq!(
        second,
        "\x1b[2A\x1b[Joverall progress: 1 out of 2 tasks\n1/2: running\n"
    );
}
