use super::*;
use shoal_model::node::{Availability, NodeRole};

fn global_sim(nodes: &[&str]) -> Sim {
    let mut spec = ServiceSpec::new("agent", "agent:1");
    spec.mode = ServiceMode::Global;
    spec.task.placement.constraints = vec!["node.role!=manager".into()];
    let mut sim = Sim::new(spec, nodes);
    sim.node_mut(nodes[0]).role = NodeRole::Manager;
    sim
}

#[test]
fn one_task_per_eligible_node_including_nodes_that_join_later() {
    let mut sim = global_sim(&["m", "a", "b"]);
    sim.settle();
    assert_eq!(sim.running_per_node(), counts(&[("a", 1), ("b", 1)]));
    sim.nodes.push(SchedNode::worker("c"));
    sim.settle();
    assert_eq!(
        sim.running_per_node(),
        counts(&[("a", 1), ("b", 1), ("c", 1)])
    );
    assert!(sim.tasks.iter().all(|t| t.slot == 0));
}

#[test]
fn drained_removed_and_excluded_nodes_lose_their_task() {
    let mut sim = global_sim(&["m", "a", "b", "c"]);
    sim.settle();
    sim.node_mut("a").availability = Availability::Drain;
    sim.node_mut("b").role = NodeRole::Manager;
    sim.nodes.retain(|n| n.id != "c");
    let plan = sim.reconcile();
    assert_eq!(plan.actions.len(), 3);
    assert!(
        plan.actions
            .iter()
            .all(|a| matches!(a, Action::Shutdown { .. }))
    );
    sim.settle();
    assert!(sim.tasks.iter().all(|t| !t.is_wanted()));
}

#[test]
fn paused_and_down_nodes_keep_tasks_but_get_no_new_ones() {
    let mut sim = global_sim(&["m", "a", "b"]);
    sim.settle();
    sim.node_mut("a").availability = Availability::Pause;
    sim.node_mut("b").status = NodeStatus::Down;
    sim.nodes.push(SchedNode::worker("c"));
    sim.nodes.last_mut().expect("c").availability = Availability::Pause;
    assert_eq!(sim.reconcile(), Plan::default());
}

#[test]
fn a_failed_global_task_is_restarted_on_its_node() {
    let mut sim = global_sim(&["m", "a"]);
    sim.service.spec.task.restart_policy.delay = shoal_model::spec::Span::ZERO;
    sim.settle();
    let first = sim.tasks[0].id.clone();
    sim.fail(&first, TaskState::Failed);
    sim.settle();
    let wanted: Vec<&Task> = sim.tasks.iter().filter(|t| t.is_wanted()).collect();
    assert_eq!(wanted.len(), 1);
    assert_ne!(wanted[0].id, first);
    assert_eq!(wanted[0].node_id.as_deref(), Some("a"));
    assert_eq!(wanted[0].status.state, TaskState::Running);
}
