//! The pure pass: allocation, orchestration, scheduling and history on
//! hand-built tables.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Sim, node_record};
use crate::allocator::{DYNAMIC_PORT_FIRST, DYNAMIC_PORT_LAST, Ipv4Net};
use crate::manager::TASK_HISTORY_LIMIT;
use shoal_model::cluster::{INGRESS_NETWORK, NodeStatus};
use shoal_model::spec::{
    EndpointMode, PortConfig, Protocol, PublishMode, RestartPolicy, ServiceMode, ServiceSpec, Span,
    TaskState,
};

fn replicated(name: &str, replicas: u64, networks: &[&str]) -> ServiceSpec {
    let mut spec = ServiceSpec::new(name, "busybox:latest");
    spec.mode = ServiceMode::Replicated { replicas };
    spec.task.networks = networks.iter().map(|n| (*n).to_owned()).collect();
    spec
}

#[test]
fn six_replicas_on_three_nodes_run_two_per_node_with_unique_addresses() {
    let mut sim = Sim::new(&["n1", "n2", "n3"]);
    sim.add_network("backend", Some("10.20.0.0/24"));
    let web = sim.add_service(replicated("web", 6, &["backend"]));
    sim.settle();

    assert_eq!(sim.running(&web).len(), 6);
    let spread: Vec<usize> = sim.per_node(&web).into_values().collect();
    assert_eq!(spread, vec![2, 2, 2]);
    let subnet: Ipv4Net = "10.20.0.0/24".parse().unwrap();
    let ips: BTreeSet<_> = sim
        .running(&web)
        .iter()
        .map(|t| t.networks[0].ip.expect("task address"))
        .collect();
    assert_eq!(ips.len(), 6, "addresses are unique");
    assert!(ips.iter().all(|ip| subnet.contains(*ip)));
    let endpoint = &sim.tables.endpoints[&web];
    assert_eq!(endpoint.vips.len(), 1);
    assert_eq!(endpoint.vips[0].network, "backend");
    assert!(!ips.contains(&endpoint.vips[0].ip), "the VIP is no task's");
    let slots: BTreeSet<u64> = sim.running(&web).iter().map(|t| t.slot).collect();
    assert_eq!(slots, (1..=6).collect());
}

#[test]
fn a_new_swarm_gets_the_ingress_network_once() {
    let mut sim = Sim::new(&["n1"]);
    sim.pass();
    let ingress = sim.tables.network_named(INGRESS_NETWORK).expect("ingress");
    assert!(ingress.ingress);
    assert_eq!(ingress.subnet, "10.0.0.0/24");
    // Removed by the operator: not brought back.
    let id = ingress.id.clone();
    sim.tables.networks.remove(&id);
    sim.pass();
    assert!(sim.tables.network_named(INGRESS_NETWORK).is_none());
}

#[test]
fn a_settled_cluster_needs_no_writes() {
    let mut sim = Sim::new(&["n1", "n2"]);
    sim.add_service(replicated("web", 3, &[]));
    sim.settle();
    let before = sim.tables.clone();
    sim.advance(Duration::from_secs(30));
    let outcome = sim.pass();
    assert!(outcome.errors.is_empty());
    assert!(sim.tables.diff(&before).unwrap().is_empty());
}

#[test]
fn tasks_of_a_down_node_move_to_the_others() {
    tasks_move_off_a_node_whose_status_is(NodeStatus::Down);
}

/// A node that never beat counts as down, as it always has.
#[test]
fn tasks_of_a_node_of_unknown_status_move_to_the_others() {
    tasks_move_off_a_node_whose_status_is(NodeStatus::Unknown);
}

fn tasks_move_off_a_node_whose_status_is(status: NodeStatus) {
    let mut sim = Sim::new(&["n1", "n2", "n3"]);
    let web = sim.add_service(replicated("web", 6, &[]));
    sim.settle();
    sim.tables.nodes.get_mut("n1").unwrap().status = status;
    sim.settle();

    assert_eq!(sim.running(&web).len(), 6);
    let nodes: BTreeSet<String> = sim.per_node(&web).into_keys().collect();
    assert_eq!(nodes, ["n2", "n3"].map(str::to_owned).into());
    let left_on_n1 = sim
        .tables
        .tasks
        .values()
        .filter(|t| t.node_id.as_deref() == Some("n1"))
        .filter(|t| t.desired_state == TaskState::Running)
        .count();
    assert_eq!(left_on_n1, 0, "nothing is wanted on the {status:?} node");
}

#[test]
fn scaling_down_keeps_the_lowest_slots_and_frees_addresses() {
    let mut sim = Sim::new(&["n1", "n2", "n3"]);
    sim.add_network("backend", None);
    let web = sim.add_service(replicated("web", 6, &["backend"]));
    sim.settle();
    let mut spec = sim.tables.services[&web].spec.clone();
    spec.mode = ServiceMode::Replicated { replicas: 2 };
    let now = sim.now;
    sim.service_mut(&web).begin_update(spec, now);
    sim.settle();

    let slots: BTreeSet<u64> = sim.running(&web).iter().map(|t| t.slot).collect();
    assert_eq!(slots, [1, 2].into());
    let allocator = sim.tables.allocator.as_ref().unwrap();
    let held = allocator.networks["backend"].addresses.len();
    assert_eq!(held, 3, "two tasks and the VIP hold addresses");
}

#[test]
fn a_global_service_runs_once_on_every_node_including_new_ones() {
    let mut sim = Sim::new(&["n1", "n2", "n3"]);
    let mut spec = ServiceSpec::new("agent", "busybox:latest");
    spec.mode = ServiceMode::Global;
    let agent = sim.add_service(spec);
    sim.settle();
    assert_eq!(
        sim.per_node(&agent).into_values().collect::<Vec<_>>(),
        [1, 1, 1]
    );

    sim.tables.nodes.insert("n4".to_owned(), node_record("n4"));
    sim.settle();
    assert_eq!(sim.per_node(&agent).len(), 4);
    assert!(sim.running(&agent).iter().all(|t| t.slot == 0));
}

#[test]
fn a_removed_service_loses_its_tasks_addresses_vips_and_ports() {
    let mut sim = Sim::new(&["n1", "n2"]);
    sim.add_network("backend", None);
    let mut spec = replicated("web", 2, &["backend"]);
    spec.ports = vec![PortConfig {
        published: 8080,
        target: 80,
        protocol: Protocol::Tcp,
        mode: PublishMode::Ingress,
    }];
    let web = sim.add_service(spec);
    sim.settle();
    assert_eq!(sim.running(&web).len(), 2);

    sim.tables.services.remove(&web);
    sim.pass();
    assert!(sim.tables.endpoints.is_empty());
    let wanted = sim.tables.tasks.values().filter(|t| t.is_wanted()).count();
    assert_eq!(wanted, 0, "its tasks are shut down");
    sim.settle();

    assert!(sim.tables.tasks.is_empty(), "stopped tasks are deleted");
    let allocator = sim.tables.allocator.as_ref().unwrap();
    assert!(allocator.networks["backend"].addresses.is_empty());
    assert!(allocator.networks[INGRESS_NETWORK].addresses.is_empty());
    assert!(allocator.ports.tcp.is_empty());
}

#[test]
fn a_task_without_an_address_stays_pending_and_says_why() {
    let mut sim = Sim::new(&["n1"]);
    // A /30 has a single assignable address.
    sim.add_network("tiny", Some("10.30.0.0/30"));
    let mut spec = replicated("web", 2, &["tiny"]);
    spec.endpoint_mode = EndpointMode::Dnsrr;
    let web = sim.add_service(spec);
    sim.settle();

    assert_eq!(sim.running(&web).len(), 1);
    let stuck: Vec<_> = sim
        .tables
        .tasks
        .values()
        .filter(|t| t.status.state == TaskState::Pending)
        .collect();
    assert_eq!(stuck.len(), 1);
    let err = stuck[0].status.err.as_deref().unwrap_or_default();
    assert!(err.contains("no available IPv4 addresses"), "{err}");
    assert!(
        stuck[0].node_id.is_none(),
        "not scheduled without an address"
    );
}

#[test]
fn a_dynamic_published_port_comes_from_the_range_and_tasks_join_ingress() {
    let mut sim = Sim::new(&["n1"]);
    let mut spec = replicated("web", 1, &[]);
    spec.ports = vec![PortConfig {
        published: 0,
        target: 80,
        protocol: Protocol::Tcp,
        mode: PublishMode::Ingress,
    }];
    let web = sim.add_service(spec);
    sim.settle();

    let endpoint = &sim.tables.endpoints[&web];
    let published = endpoint.ports[0].published;
    assert!((DYNAMIC_PORT_FIRST..=DYNAMIC_PORT_LAST).contains(&published));
    assert_eq!(endpoint.vips[0].network, INGRESS_NETWORK);
    let task = sim.running(&web)[0];
    assert_eq!(task.networks[0].network, INGRESS_NETWORK);
    assert!(task.networks[0].ip.is_some());
}

#[test]
fn only_five_ended_tasks_are_kept_per_slot() {
    let mut sim = Sim::new(&["n1"]);
    let mut spec = replicated("web", 1, &[]);
    spec.task.restart_policy = RestartPolicy {
        delay: Span::ZERO,
        ..RestartPolicy::default()
    };
    let web = sim.add_service(spec);
    sim.settle();
    for _ in 0..8 {
        let id = sim.running(&web)[0].id.clone();
        sim.advance(Duration::from_secs(1));
        let task = sim.tables.tasks.get_mut(&id).unwrap();
        task.status.state = TaskState::Failed;
        task.status.timestamp = sim.now;
        sim.settle();
    }

    assert_eq!(sim.running(&web).len(), 1);
    let ended = sim
        .tables
        .tasks
        .values()
        .filter(|t| t.status.state.is_terminal())
        .count();
    assert_eq!(ended, TASK_HISTORY_LIMIT);
}

#[test]
fn an_unplaceable_task_says_why_once_and_is_not_rewritten() {
    let mut sim = Sim::new(&["n1", "n2"]);
    let mut spec = replicated("web", 1, &[]);
    spec.task.placement.constraints = vec!["node.labels.zone==moon".to_owned()];
    let web = sim.add_service(spec);
    sim.settle();
    let task = sim.tables.tasks.values().next().unwrap();
    assert_eq!(task.status.state, TaskState::Pending);
    let err = task.status.err.clone().unwrap_or_default();
    assert!(
        err.contains("scheduling constraints not satisfied on 2 nodes"),
        "{err}"
    );

    let before = sim.tables.clone();
    sim.advance(Duration::from_secs(5));
    sim.pass();
    assert!(sim.tables.diff(&before).unwrap().is_empty());
    assert!(sim.running(&web).is_empty());
}

#[test]
fn tasks_of_a_removed_node_are_orphaned_and_replaced() {
    let mut sim = Sim::new(&["n1", "n2"]);
    sim.add_network("backend", None);
    let web = sim.add_service(replicated("web", 2, &["backend"]));
    sim.settle();
    let lost: Vec<String> = sim
        .running(&web)
        .iter()
        .filter(|t| t.node_id.as_deref() == Some("n1"))
        .map(|t| t.id.clone())
        .collect();
    assert_eq!(lost.len(), 1);
    sim.tables.nodes.remove("n1");
    sim.settle();

    assert_eq!(
        sim.per_node(&web).into_iter().collect::<Vec<_>>(),
        [("n2".to_owned(), 2)]
    );
    assert_eq!(sim.tables.tasks[&lost[0]].status.state, TaskState::Orphaned);
    let allocator = sim.tables.allocator.as_ref().unwrap();
    let holders: BTreeSet<&String> = allocator.networks["backend"].addresses.values().collect();
    assert!(!holders.contains(&lost[0]), "the orphan's address is free");
}
