use shoal_control::spec::{RestartCondition, TaskState};

use super::*;
use crate::cli::fixtures::{ended, global_service, node_task, outdated, service, task};

fn texts(lines: &[Line]) -> Vec<String> {
    lines.iter().map(|l| l.text.clone()).collect()
}

#[test]
fn bars_fill_with_the_task_stage() {
    assert_eq!(
        bar(TaskState::Running),
        "[==================================================>]"
    );
    assert_eq!(bar(TaskState::New), format!("[=====>{}]", " ".repeat(45)));
    assert_eq!(
        bar(TaskState::Preparing),
        format!("[{}>{}]", "=".repeat(33), " ".repeat(17))
    );
}

#[test]
fn replicated_view_has_one_line_per_slot_with_a_task() {
    let web = service(3);
    let mut pending = task(&web, "c", 3, TaskState::Pending, 0);
    pending.task.status.err = Some("no suitable node (1 node not available)".into());
    let tasks = vec![
        task(&web, "a", 1, TaskState::Running, 0),
        pending,
        task(&web, "b", 2, TaskState::Preparing, 0),
    ];
    let assessment = assess(&web, &tasks);
    assert_eq!((assessment.running, assessment.desired), (1, 3));
    assert!(!assessment.converged());
    assert_eq!(
        texts(&render(&web, &assessment)),
        vec![
            "overall progress: 1 out of 3 tasks".to_owned(),
            format!("1/3: running   {}", bar(TaskState::Running)),
            format!("2/3: preparing {}", bar(TaskState::Preparing)),
            "3/3: no suitable node (1 node not available)".to_owned(),
        ]
    );
}

#[test]
fn a_running_task_from_an_old_template_does_not_count() {
    let mut web = service(2);
    let tasks = vec![
        outdated(task(&web, "old", 1, TaskState::Running, 0)),
        task(&web, "b", 2, TaskState::Running, 0),
    ];
    let assessment = assess(&web, &tasks);
    assert_eq!(assessment.running, 1);
    assert!(!assessment.converged());
    // A new version with the same template (a scale) leaves tasks current.
    web.service.version = 7;
    let tasks = vec![
        task(&service(2), "a", 1, TaskState::Running, 0),
        task(&service(2), "b", 2, TaskState::Running, 0),
    ];
    assert!(assess(&web, &tasks).converged());
}

#[test]
fn the_current_task_stands_for_its_slot_over_history() {
    let web = service(1);
    let tasks = vec![
        ended(
            task(&web, "failed", 1, TaskState::Running, 5_000),
            TaskState::Failed,
            Some("task: non-zero exit (1)"),
        ),
        outdated(task(&web, "old", 1, TaskState::Running, 9_000)),
        task(&web, "new", 1, TaskState::Starting, 1_000),
    ];
    let assessment = assess(&web, &tasks);
    assert_eq!(
        assessment.slots[0].task.map(|t| t.task.id.as_str()),
        Some("new")
    );
    assert_eq!(assessment.slots[0].ended_current, 1);
}

#[test]
fn tasks_beyond_the_replicas_are_ignored() {
    let web = service(1);
    let tasks = vec![
        task(&web, "a", 1, TaskState::Running, 0),
        task(&web, "b", 2, TaskState::Preparing, 0),
    ];
    let assessment = assess(&web, &tasks);
    assert!(assessment.converged());
    assert_eq!(render(&web, &assessment).len(), 2);
}

#[test]
fn global_view_has_one_line_per_node() {
    let agent = global_service(3);
    let tasks = vec![
        node_task(&agent, "a", "node1aaaaaaaaaaaaaa", TaskState::Running),
        node_task(&agent, "b", "node2bbbbbbbbbbbbbb", TaskState::Assigned),
        ended(
            node_task(&agent, "c", "node3ccccccccccccccc", TaskState::Running),
            TaskState::Shutdown,
            None,
        ),
    ];
    let assessment = assess(&agent, &tasks);
    assert_eq!((assessment.running, assessment.desired), (1, 3));
    assert_eq!(
        texts(&render(&agent, &assessment)),
        vec![
            "overall progress: 1 out of 3 tasks".to_owned(),
            format!("node1aaaaaaa: running   {}", bar(TaskState::Running)),
            format!("node2bbbbbbb: assigned  {}", bar(TaskState::Assigned)),
        ]
    );
    let all = vec![
        node_task(&agent, "a", "n1", TaskState::Running),
        node_task(&agent, "b", "n2", TaskState::Running),
        node_task(&agent, "c", "n3", TaskState::Running),
    ];
    assert!(assess(&agent, &all).converged());
}

#[test]
fn no_restart_policy_means_a_failed_slot_gives_up() {
    let mut web = service(2);
    let failed = ended(
        task(&web, "f", 2, TaskState::Running, 0),
        TaskState::Rejected,
        Some("image not found"),
    );
    let tasks = vec![task(&web, "a", 1, TaskState::Running, 0), failed];
    // Restart policy `any`: the orchestrator will replace it; keep waiting.
    assert!(assess(&web, &tasks).given_up(&web).is_empty());
    web.service.spec.task.restart_policy.condition = RestartCondition::None;
    let tasks: Vec<_> = tasks
        .into_iter()
        .map(|mut t| {
            t.task.spec = web.service.spec.task.clone();
            t
        })
        .collect();
    assert_eq!(
        assess(&web, &tasks).given_up(&web),
        vec!["web.2: image not found"]
    );
}

#[test]
fn used_up_restarts_give_up() {
    let mut web = service(1);
    web.service.spec.task.restart_policy.max_attempts = 1;
    let failed = |id: &str, at| {
        ended(
            task(&web, id, 1, TaskState::Running, at),
            TaskState::Failed,
            Some("task: non-zero exit (2)"),
        )
    };
    let one = vec![failed("f1", 1)];
    assert!(assess(&web, &one).given_up(&web).is_empty());
    let two = vec![failed("f1", 1), failed("f2", 2)];
    assert_eq!(
        assess(&web, &two).given_up(&web),
        vec!["web.1: task: non-zero exit (2)"]
    );
}

#[test]
fn rollback_is_announced_in_the_overall_line() {
    let mut web = service(1);
    web.service.update_status = Some(shoal_control::spec::UpdateStatus {
        state: shoal_control::spec::UpdateState::RollbackStarted,
        started_at: shoal_control::spec::Timestamp(0),
        completed_at: None,
        message: "manually requested rollback".into(),
    });
    let tasks = vec![task(&web, "a", 1, TaskState::Running, 0)];
    let lines = render(&web, &assess(&web, &tasks));
    assert_eq!(
        lines[0].text,
        "overall progress: rolling back update: 1 out of 1 tasks"
    );
}

#[test]
fn long_errors_are_cut_to_one_short_line() {
    let web = service(1);
    let mut failing = task(&web, "a", 1, TaskState::Preparing, 0);
    let long = format!("runc create failed:\n{}", "x".repeat(100));
    failing.task.status.err = Some(long);
    let tasks = vec![failing];
    let lines = render(&web, &assess(&web, &tasks));
    let slot = &lines[1].text;
    assert!(slot.starts_with("1/1: runc create failed: xxx"), "{slot}");
    assert!(slot.ends_with('…'), "{slot}");
    assert_eq!(slot.chars().count(), "1/1: ".len() + 75);
}
