use std::collections::{BTreeMap, HashMap};

use super::*;
use shoal_model::node::{Availability, NodeStatus};
use shoal_model::spec::{
    PortConfig, Protocol, PublishMode, Resources, SchedNode, ServiceMode, ServiceSpec, TaskStatus,
};

fn node(id: &str, labels: &[(&str, &str)]) -> SchedNode {
    let mut node = SchedNode::worker(id);
    for (key, value) in labels {
        node.labels.insert((*key).into(), (*value).into());
    }
    node
}

fn service(id: &str, replicas: u64, edit: impl FnOnce(&mut ServiceSpec)) -> Service {
    let mut spec = ServiceSpec::new(id, "nginx");
    spec.mode = ServiceMode::Replicated { replicas };
    edit(&mut spec);
    Service::new(id, spec)
}

fn pending(service: &Service, slot: u64) -> Task {
    Task {
        id: format!("{}.{slot}", service.id),
        service_id: service.id.clone(),
        slot,
        node_id: None,
        desired_state: TaskState::Running,
        status: TaskStatus {
            state: TaskState::Pending,
            ..TaskStatus::default()
        },
        spec: service.spec.task.clone(),
        spec_version: service.version,
        networks: Vec::new(),
    }
}

fn running_on(service: &Service, slot: u64, node: &str) -> Task {
    let mut task = pending(service, slot);
    task.node_id = Some(node.into());
    task.status.state = TaskState::Running;
    task
}

fn run(nodes: &[SchedNode], services: &[&Service], tasks: &[Task]) -> Vec<Decision> {
    let services: BTreeMap<String, Service> = services
        .iter()
        .map(|s| (s.id.clone(), (*s).clone()))
        .collect();
    schedule(nodes, &services, tasks)
}

/// Node ID → tasks assigned there.
fn per_node(decisions: &[Decision]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for decision in decisions {
        if let Decision::Assign { node_id, .. } = decision {
            *counts.entry(node_id.clone()).or_default() += 1;
        }
    }
    counts
}

fn explanations(decisions: &[Decision]) -> Vec<&str> {
    decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Pending { explanation, .. } => Some(explanation.as_str()),
            Decision::Assign { .. } => None,
        })
        .collect()
}

#[test]
fn six_replicas_spread_two_per_node_over_three_nodes() {
    let nodes = [node("a", &[]), node("b", &[]), node("c", &[])];
    let web = service("web", 6, |_| {});
    let tasks: Vec<Task> = (1..=6).map(|slot| pending(&web, slot)).collect();
    let decisions = run(&nodes, &[&web], &tasks);
    let expected: BTreeMap<String, usize> = [("a", 2), ("b", 2), ("c", 2)]
        .into_iter()
        .map(|(n, c)| (n.to_owned(), c))
        .collect();
    assert_eq!(per_node(&decisions), expected);
}

#[test]
fn existing_tasks_of_the_service_then_total_tasks_steer_placement() {
    let nodes = [node("a", &[]), node("b", &[]), node("c", &[])];
    let web = service("web", 3, |_| {});
    let other = service("db", 2, |_| {});
    let tasks = vec![
        running_on(&web, 1, "a"),
        running_on(&other, 1, "b"),
        running_on(&other, 2, "b"),
        pending(&web, 2),
        pending(&web, 3),
    ];
    let decisions = run(&nodes, &[&web, &other], &tasks);
    // c has nothing; b has no web task but two others; a has a web task.
    assert_eq!(
        decisions
            .iter()
            .map(|d| match d {
                Decision::Assign { node_id, .. } => node_id.as_str(),
                Decision::Pending { .. } => "pending",
            })
            .collect::<Vec<_>>(),
        vec!["c", "b"]
    );
}

#[test]
fn constraints_and_unavailable_nodes_are_explained_like_docker() {
    let mut drained = node("d", &[("zone", "a")]);
    drained.availability = Availability::Drain;
    let nodes = [
        node("a", &[("zone", "b")]),
        node("b", &[("zone", "b")]),
        node("c", &[]),
        drained,
    ];
    let web = service("web", 1, |s| {
        s.task.placement.constraints = vec!["node.labels.zone==a".into()]
    });
    let decisions = run(&nodes, &[&web], &[pending(&web, 1)]);
    assert_eq!(
        explanations(&decisions),
        vec![
            "no suitable node (scheduling constraints not satisfied on 3 nodes; 1 node not available for new tasks)"
        ]
    );
}

#[test]
fn constraint_and_drain_are_honoured_when_nodes_fit() {
    let mut drained = node("d", &[("zone", "a")]);
    drained.availability = Availability::Drain;
    let mut down = node("e", &[("zone", "a")]);
    down.status = NodeStatus::Down;
    let nodes = [
        node("a", &[("zone", "a")]),
        node("b", &[("zone", "b")]),
        drained,
        down,
    ];
    let web = service("web", 4, |s| {
        s.task.placement.constraints = vec!["node.labels.zone==a".into()]
    });
    let tasks: Vec<Task> = (1..=4).map(|slot| pending(&web, slot)).collect();
    let decisions = run(&nodes, &[&web], &tasks);
    assert_eq!(per_node(&decisions), BTreeMap::from([("a".to_owned(), 4)]));
}

#[test]
fn host_ports_block_a_second_task_on_the_node() {
    let nodes = [node("a", &[]), node("b", &[])];
    let web = service("web", 3, |s| {
        s.ports = vec![PortConfig {
            published: 80,
            target: 80,
            protocol: Protocol::Tcp,
            mode: PublishMode::Host,
        }];
    });
    let tasks: Vec<Task> = (1..=3).map(|slot| pending(&web, slot)).collect();
    let decisions = run(&nodes, &[&web], &tasks);
    assert_eq!(per_node(&decisions).len(), 2);
    assert_eq!(
        explanations(&decisions),
        vec!["no suitable node (host-mode port already in use on 2 nodes)"]
    );
}

#[test]
fn max_replicas_per_node_caps_each_node() {
    let nodes = [node("a", &[]), node("b", &[])];
    let web = service("web", 5, |s| s.task.placement.max_replicas_per_node = 2);
    let tasks: Vec<Task> = (1..=5).map(|slot| pending(&web, slot)).collect();
    let decisions = run(&nodes, &[&web], &tasks);
    assert_eq!(
        per_node(&decisions).values().copied().collect::<Vec<_>>(),
        vec![2, 2]
    );
    assert_eq!(
        explanations(&decisions),
        vec!["no suitable node (max replicas per node limit exceeded on 2 nodes)"]
    );
}

#[test]
fn reservations_fill_nodes_and_running_tasks_count() {
    let mut small = node("small", &[]);
    small.resources = Resources {
        nano_cpus: 1_000_000_000,
        memory_bytes: 1 << 30,
    };
    let mut big = node("big", &[]);
    big.resources = Resources {
        nano_cpus: 4_000_000_000,
        memory_bytes: 8 << 30,
    };
    let web = service("web", 6, |s| {
        s.task.resources = Resources {
            nano_cpus: 1_000_000_000,
            memory_bytes: 512 << 20,
        };
    });
    let mut tasks = vec![running_on(&web, 1, "big")];
    tasks.extend((2..=6).map(|slot| pending(&web, slot)));
    let decisions = run(&[small, big], &[&web], &tasks);
    // small fits 1, big has 3 CPUs left: 4 placed, 1 pending.
    assert_eq!(
        per_node(&decisions),
        BTreeMap::from([("big".to_owned(), 3), ("small".to_owned(), 1)])
    );
    assert_eq!(
        explanations(&decisions),
        vec!["no suitable node (insufficient resources on 2 nodes)"]
    );
}

#[test]
fn spread_preference_splits_over_label_values_first() {
    let nodes = [
        node("a1", &[("zone", "a")]),
        node("b1", &[("zone", "b")]),
        node("b2", &[("zone", "b")]),
        node("b3", &[("zone", "b")]),
    ];
    let web = service("web", 6, |s| {
        s.task.placement.preferences = vec!["spread=node.labels.zone".into()]
    });
    let tasks: Vec<Task> = (1..=6).map(|slot| pending(&web, slot)).collect();
    let counts = per_node(&run(&nodes, &[&web], &tasks));
    assert_eq!(counts["a1"], 3, "{counts:?}");
    assert_eq!((counts["b1"], counts["b2"], counts["b3"]), (1, 1, 1));
}

#[test]
fn bound_global_tasks_are_checked_against_their_node() {
    let mut paused = node("p", &[]);
    paused.availability = Availability::Pause;
    let agent = service("agent", 0, |s| s.mode = ServiceMode::Global);
    let mut on_a = pending(&agent, 0);
    on_a.node_id = Some("a".into());
    let mut on_p = pending(&agent, 0);
    on_p.id = "agent.p".into();
    on_p.node_id = Some("p".into());
    let decisions = run(&[node("a", &[]), paused], &[&agent], &[on_a, on_p]);
    assert_eq!(
        decisions,
        vec![
            Decision::Assign {
                task_id: "agent.0".into(),
                node_id: "a".into()
            },
            Decision::Pending {
                task_id: "agent.p".into(),
                explanation: "no suitable node (1 node not available for new tasks)".into()
            },
        ]
    );
}

#[test]
fn decisions_apply_to_tasks() {
    let web = service("web", 1, |_| {});
    let mut tasks = vec![pending(&web, 1)];
    let decisions = run(&[node("a", &[])], &[&web], &tasks);
    apply_decisions(&mut tasks, &decisions, Timestamp(7));
    assert_eq!(tasks[0].node_id.as_deref(), Some("a"));
    assert_eq!(tasks[0].status.state, TaskState::Assigned);
    assert_eq!(tasks[0].status.timestamp, Timestamp(7));
    assert!(
        run(&[node("a", &[])], &[&web], &tasks).is_empty(),
        "nothing left to schedule"
    );
}

#[test]
fn ten_thousand_tasks_on_a_thousand_nodes_land_ten_per_node() {
    let (nodes, services, tasks) = bench_cluster(1_000, 10_000);
    let decisions = schedule(&nodes, &services, &tasks);
    assert_eq!(decisions.len(), 10_000);
    let counts = per_node(&decisions);
    assert_eq!(counts.len(), 1_000);
    assert!(
        counts.values().all(|&c| c == 10),
        "uneven: {:?}",
        counts.values().max()
    );
    // Within a service no node gets two tasks while another has none.
    let mut per_service: HashMap<(&str, &str), usize> = HashMap::new();
    for decision in &decisions {
        if let Decision::Assign { task_id, node_id } = decision {
            let service = task_id.split('.').next().unwrap_or_default();
            *per_service.entry((service, node_id)).or_default() += 1;
        }
    }
    assert!(per_service.values().all(|&c| c == 1));
}

#[test]
fn scheduling_rate_is_reported() {
    let elapsed = bench_schedule(1_000, 10_000);
    let rate = 10_000.0 / elapsed.as_secs_f64();
    println!("scheduled 10000 tasks on 1000 nodes in {elapsed:?}: {rate:.0} tasks/s");
}
