use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::*;
use shoal_model::assignment::{AssignedTask, LbBackend};
use shoal_model::cluster::VirtualIp;
use shoal_model::spec::{NetworkAttachment, ServiceSpec, Task, TaskState, TaskStatus};

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 1, last)
}

fn backend(task: &str, network: &str, ip: Ipv4Addr, draining: bool) -> LbBackend {
    LbBackend {
        task_id: task.to_owned(),
        network: network.to_owned(),
        ip,
        draining,
        task_name: format!("db.1.{task}"),
        hostname: format!("host-{task}"),
    }
}

fn service(name: &str, vips: &[(&str, Ipv4Addr)], backends: Vec<LbBackend>) -> LbService {
    LbService {
        id: format!("id-{name}"),
        name: name.to_owned(),
        vips: vips
            .iter()
            .map(|(network, ip)| VirtualIp {
                network: (*network).to_owned(),
                ip: *ip,
            })
            .collect(),
        ports: Vec::new(),
        backends,
        endpoint_mode: EndpointMode::Vip,
        aliases: BTreeMap::new(),
    }
}

/// A task of this node on `networks`: the caller.
fn caller(id: &str, networks: &[&str]) -> AssignedTask {
    AssignedTask {
        task: Task {
            id: id.to_owned(),
            service_id: "web".to_owned(),
            slot: 1,
            node_id: Some("n1".to_owned()),
            desired_state: TaskState::Running,
            status: TaskStatus::default(),
            spec: ServiceSpec::new("web", "busybox").task,
            spec_version: 1,
            networks: networks
                .iter()
                .map(|n| NetworkAttachment {
                    network: (*n).to_owned(),
                    ip: None,
                })
                .collect(),
        },
        name: "web.1".to_owned(),
        secrets: Vec::new(),
        configs: Vec::new(),
    }
}

fn assignment(services: Vec<LbService>) -> Assignment {
    Assignment {
        tasks: vec![
            caller("front-caller", &["front"]),
            caller("both", &["front", "back"]),
        ],
        services,
        ..Assignment::default()
    }
}

#[test]
fn a_service_name_and_alias_resolve_to_the_vip_of_a_shared_network_only() {
    let mut db = service(
        "db",
        &[("front", ip(2)), ("back", ip(200))],
        vec![backend("t1", "front", ip(10), false)],
    );
    db.aliases
        .insert("front".to_owned(), vec!["Store".to_owned()]);
    let records = Records::build(&assignment(vec![db]));
    assert_eq!(
        records.lookup("front-caller", "db"),
        Lookup::Found(vec![ip(2)])
    );
    assert_eq!(
        records.lookup("front-caller", "DB."),
        Lookup::Found(vec![ip(2)])
    );
    assert_eq!(
        records.lookup("front-caller", "store"),
        Lookup::Found(vec![ip(2)])
    );
    assert_eq!(
        records.lookup("both", "db"),
        Lookup::Found(vec![ip(2), ip(200)]),
        "a caller on both networks sees both VIPs"
    );
    assert_eq!(
        records.lookup("stranger", "db"),
        Lookup::NxDomain,
        "a task the assignment does not list sees no cluster name"
    );
}

#[test]
fn a_service_on_no_network_of_the_caller_is_nxdomain_not_forwarded() {
    let only_back = service("secret", &[("back", ip(201))], Vec::new());
    let records = Records::build(&assignment(vec![only_back]));
    assert_eq!(records.lookup("front-caller", "secret"), Lookup::NxDomain);
    assert_eq!(
        records.lookup("both", "secret"),
        Lookup::Found(vec![ip(201)])
    );
    assert_eq!(
        records.lookup("front-caller", "tasks.nothing"),
        Lookup::NxDomain
    );
    assert_eq!(
        records.lookup("front-caller", "nosuchname"),
        Lookup::NxDomain
    );
    assert_eq!(
        records.lookup("front-caller", "www.example.org"),
        Lookup::Forward
    );
}

#[test]
fn tasks_names_list_running_tasks_never_draining_ones() {
    let db = service(
        "db",
        &[("front", ip(2))],
        vec![
            backend("t1", "front", ip(10), false),
            backend("t2", "front", ip(11), false),
            backend("t3", "front", ip(12), true),
        ],
    );
    let records = Records::build(&assignment(vec![db]));
    assert_eq!(
        records.lookup("front-caller", "tasks.db"),
        Lookup::Found(vec![ip(10), ip(11)])
    );
    assert_eq!(
        records.lookup("front-caller", "db.1.t2"),
        Lookup::Found(vec![ip(11)])
    );
    assert_eq!(
        records.lookup("front-caller", "host-t1"),
        Lookup::Found(vec![ip(10)])
    );
    assert_eq!(records.lookup("front-caller", "db.1.t3"), Lookup::Forward);
    assert_eq!(records.reverse("front-caller", ip(11)), Some("db.1.t2"));
    assert_eq!(records.reverse("front-caller", ip(2)), Some("db"));
}

#[test]
fn a_dnsrr_service_resolves_to_its_tasks() {
    let mut db = service(
        "db",
        &[],
        vec![
            backend("t1", "front", ip(10), false),
            backend("t2", "front", ip(11), false),
        ],
    );
    db.endpoint_mode = EndpointMode::Dnsrr;
    db.aliases
        .insert("front".to_owned(), vec!["store".to_owned()]);
    let records = Records::build(&assignment(vec![db.clone()]));
    assert_eq!(
        records.lookup("front-caller", "db"),
        Lookup::Found(vec![ip(10), ip(11)])
    );
    assert_eq!(
        records.lookup("front-caller", "store"),
        Lookup::Found(vec![ip(10), ip(11)])
    );
    db.backends.clear();
    let records = Records::build(&assignment(vec![db]));
    assert_eq!(
        records.lookup("front-caller", "db"),
        Lookup::NxDomain,
        "a dnsrr service without running tasks is still the cluster's name"
    );
}
