//! Assignments built from hand-made tables.

use std::net::Ipv4Addr;

use serde::Serialize;

use super::*;
use shoal_model::assignment::WgPeer;
use shoal_model::cluster::{
    Availability, CLUSTER, CLUSTER_KEY, CONFIGS, ClusterRecord, ConfigRecord, ENDPOINTS, NETWORKS,
    NODES, NetworkRecord, NodeRecord, NodeRole, NodeStatus, SECRETS, SERVICES, SecretRecord,
    ServiceEndpoint, TASKS, VirtualIp,
};
use shoal_model::node::NodeWireGuard;
use shoal_model::spec::{
    ConfigRef, NetworkAttachment, PortConfig, Protocol, PublishMode, SecretRef, Service,
    ServiceSpec, Task, TaskState, TaskStatus,
};
use shoal_raft::Tables;

fn put<T: Serialize>(tables: &mut Tables, table: &str, key: &str, row: &T) {
    tables
        .entry(table.to_owned())
        .or_default()
        .insert(key.to_owned(), serde_json::to_value(row).unwrap());
}

fn node(id: &str, addr: &str) -> NodeRecord {
    NodeRecord {
        id: id.to_owned(),
        raft_id: 1,
        hostname: format!("host-{id}"),
        role: NodeRole::Worker,
        desired_role: NodeRole::Worker,
        availability: Availability::Active,
        labels: Default::default(),
        addr: addr.to_owned(),
        status: NodeStatus::Ready,
        engine_version: "test".to_owned(),
        cert_not_after: 0,
        created_at: 0,
        wireguard: None,
        resources: None,
    }
}

fn cluster() -> ClusterRecord {
    ClusterRecord {
        id: "cluster".to_owned(),
        ca_cert_pem: String::new(),
        ca_key_pem: String::new(),
        worker_secret: String::new(),
        manager_secret: String::new(),
        autolock: false,
        unlock_key: None,
        cert_expiry_secs: 3600,
        data_path_port: 4790,
        key_rotation_secs: shoal_model::cluster::DEFAULT_KEY_ROTATION_SECS,
        heartbeat_period_ms: shoal_model::cluster::DEFAULT_HEARTBEAT_PERIOD_MS,
        created_at: 0,
    }
}

fn network(name: &str, vni: u32, subnet: &str) -> NetworkRecord {
    NetworkRecord {
        id: format!("net-{name}"),
        name: name.to_owned(),
        driver: "overlay".to_owned(),
        vni,
        subnet: subnet.to_owned(),
        gateway: Ipv4Addr::new(10, 0, vni as u8, 1),
        encrypted: false,
        internal: false,
        ingress: false,
        labels: Default::default(),
        created_at: 0,
    }
}

/// Task `id` of service `svc` on `node`, attached to `front`.
pub(super) fn task(
    id: &str,
    slot: u64,
    node: &str,
    desired: TaskState,
    observed: TaskState,
) -> Task {
    let mut spec = ServiceSpec::new("web", "nginx").task;
    spec.secrets = vec![SecretRef::named("db-pass")];
    Task {
        id: id.to_owned(),
        service_id: "svc".to_owned(),
        slot,
        node_id: Some(node.to_owned()),
        desired_state: desired,
        status: TaskStatus {
            state: observed,
            ..TaskStatus::default()
        },
        spec,
        spec_version: 1,
        networks: vec![NetworkAttachment {
            network: "front".to_owned(),
            ip: Some(Ipv4Addr::new(10, 0, 1, 10 + slot as u8)),
        }],
    }
}

/// Two nodes, a service `web` on `front` with a VIP and a published port,
/// and tasks in every interesting state.
fn tables() -> Tables {
    let mut t = Tables::new();
    put(&mut t, CLUSTER, CLUSTER_KEY, &cluster());
    put(&mut t, NODES, "n1", &node("n1", "192.168.1.1:2377"));
    put(&mut t, NODES, "n2", &node("n2", "192.168.1.2:2377"));
    put(
        &mut t,
        NETWORKS,
        "net-front",
        &network("front", 4097, "10.0.1.0/24"),
    );
    let mut spec = ServiceSpec::new("web", "nginx");
    spec.ports = vec![PortConfig {
        published: 8080,
        target: 80,
        protocol: Protocol::Tcp,
        mode: PublishMode::Ingress,
    }];
    put(&mut t, SERVICES, "svc", &Service::new("svc", spec.clone()));
    let endpoint = ServiceEndpoint {
        service_id: "svc".to_owned(),
        vips: vec![VirtualIp {
            network: "front".to_owned(),
            ip: Ipv4Addr::new(10, 0, 1, 2),
        }],
        ports: spec.ports.clone(),
        spec_version: 1,
    };
    put(&mut t, ENDPOINTS, "svc", &endpoint);
    let secret = SecretRecord {
        id: "s1".to_owned(),
        name: "db-pass".to_owned(),
        data_b64: "aHVudGVyMg==".to_owned(),
        labels: Default::default(),
        created_at: 0,
    };
    put(&mut t, SECRETS, "s1", &secret);
    let unused = SecretRecord {
        id: "s2".to_owned(),
        name: "other".to_owned(),
        ..secret
    };
    put(&mut t, SECRETS, "s2", &unused);
    use TaskState::{Complete, Running, Shutdown};
    for task in [
        task("t1", 1, "n1", Running, Running),
        task("t2", 2, "n1", Shutdown, Running),
        task("t3", 3, "n1", Shutdown, Complete),
        task("t4", 4, "n2", Running, Running),
        task("t5", 5, "n2", Running, TaskState::Starting),
        task("t6", 6, "n2", Shutdown, Shutdown),
        // A global task names its node before the scheduler hands it over.
        task("t7", 0, "n1", Running, TaskState::Pending),
    ] {
        put(&mut t, TASKS, &task.id.clone(), &task);
    }
    t
}

#[test]
fn a_node_gets_its_wanted_tasks_and_those_still_to_stop() {
    let a = build("n1", &tables()).unwrap();
    let ids: Vec<_> = a.tasks.iter().map(|t| t.task.id.as_str()).collect();
    // t3 is stopped already: nothing left to do for it; t7 is not
    // scheduled yet.
    assert_eq!(ids, ["t1", "t2"]);
    assert_eq!(a.tasks[0].name, "web.1");
    assert_eq!(a.data_path_port, 4790);
    assert_eq!(a.node_id, "n1");
}

#[test]
fn only_the_secrets_its_tasks_name_reach_a_node() {
    let a = build("n1", &tables()).unwrap();
    let names: Vec<_> = a.tasks[0].secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db-pass"]);
    assert_eq!(a.tasks[0].secrets[0].data_b64, "aHVudGVyMg==");
    let json = serde_json::to_string(&a).unwrap();
    assert!(!json.contains("\"other\""), "an unused secret leaked");
}

#[test]
fn a_task_gets_the_configs_its_spec_names() {
    let mut t = tables();
    for (id, name, data) in [("c1", "site", "aGk="), ("c2", "unused", "eA==")] {
        let config = ConfigRecord {
            id: id.to_owned(),
            name: name.to_owned(),
            data_b64: data.to_owned(),
            labels: Default::default(),
            created_at: 0,
            updated_at: 0,
            version: 1,
        };
        put(&mut t, CONFIGS, id, &config);
    }
    let mut with_config = task("t8", 8, "n1", TaskState::Running, TaskState::Running);
    with_config.spec.configs = vec![ConfigRef::named("site")];
    put(&mut t, TASKS, "t8", &with_config);
    let a = build("n1", &t).unwrap();
    let configs = |id: &str| {
        let task = a.tasks.iter().find(|at| at.task.id == id).unwrap();
        task.configs
            .iter()
            .map(|c| (c.name.clone(), c.data_b64.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(configs("t8"), [("site".to_owned(), "aGk=".to_owned())]);
    assert!(configs("t1").is_empty(), "t1 names no config");
}

#[test]
fn remote_tasks_are_live_tasks_on_other_nodes_at_their_underlay_address() {
    let a = build("n1", &tables()).unwrap();
    let remote: Vec<_> = a
        .remote_tasks
        .iter()
        .map(|r| (r.network.as_str(), r.ip, r.node_addr))
        .collect();
    let n2 = Ipv4Addr::new(192, 168, 1, 2);
    // t6 has ended; t4 and t5 are live on n2.
    assert_eq!(
        remote,
        [
            ("front", Ipv4Addr::new(10, 0, 1, 14), n2),
            ("front", Ipv4Addr::new(10, 0, 1, 15), n2),
        ]
    );
}

#[test]
fn peers_are_the_nodes_with_tasks_on_the_same_networks() {
    let n1 = Ipv4Addr::new(192, 168, 1, 1);
    let n2 = Ipv4Addr::new(192, 168, 1, 2);
    assert_eq!(build("n1", &tables()).unwrap().peers, [n2]);
    assert_eq!(build("n2", &tables()).unwrap().peers, [n1]);
}

/// `tables()` with `front` encrypted, WireGuard keys on n1 and n3, a keyless
/// n2 and n3 running a task on `front` too.
fn encrypted_tables() -> Tables {
    let mut t = tables();
    let keyed = |id: &str, addr: &str, key: &str| NodeRecord {
        wireguard: Some(NodeWireGuard {
            public_key: key.to_owned(),
            port: 51820,
        }),
        ..node(id, addr)
    };
    put(
        &mut t,
        NODES,
        "n1",
        &keyed("n1", "192.168.1.1:2377", "key-1"),
    );
    put(
        &mut t,
        NODES,
        "n3",
        &keyed("n3", "192.168.1.3:2377", "key-3"),
    );
    let front = NetworkRecord {
        encrypted: true,
        ..network("front", 4097, "10.0.1.0/24")
    };
    put(&mut t, NETWORKS, "net-front", &front);
    let t9 = task("t9", 9, "n3", TaskState::Running, TaskState::Running);
    put(&mut t, TASKS, "t9", &t9);
    t
}

#[test]
fn wg_peers_are_the_keyed_nodes_sharing_an_encrypted_network_and_go_with_its_record() {
    let mut t = encrypted_tables();
    let peers = build("n1", &t).unwrap().wg_peers;
    assert_eq!(
        peers,
        [WgPeer {
            addr: Ipv4Addr::new(192, 168, 1, 3),
            public_key: "key-3".to_owned(),
            port: 51820,
        }],
        "n1 must get n3's key only (not its own, not keyless n2's)"
    );
    assert_eq!(build("n3", &t).unwrap().wg_peers[0].public_key, "key-1");
    // n4 has a key but no task on the encrypted network: no session.
    let n4 = NodeRecord {
        wireguard: Some(NodeWireGuard {
            public_key: "key-4".to_owned(),
            port: 51820,
        }),
        ..node("n4", "192.168.1.4:2377")
    };
    put(&mut t, NODES, "n4", &n4);
    assert_eq!(build("n1", &t).unwrap().wg_peers.len(), 1);
    assert!(build("n4", &t).unwrap().wg_peers.is_empty());
    t.get_mut(NODES).unwrap().remove("n3");
    assert!(
        build("n1", &t).unwrap().wg_peers.is_empty(),
        "a removed node's key must leave every assignment"
    );
}

#[test]
fn a_node_on_no_encrypted_network_gets_no_wg_peers() {
    let mut t = encrypted_tables();
    put(
        &mut t,
        NETWORKS,
        "net-front",
        &network("front", 4097, "10.0.1.0/24"),
    );
    assert!(build("n1", &t).unwrap().wg_peers.is_empty());
}

#[test]
fn a_join_reaches_only_the_mesh_backend_nodes_assignments() {
    let t = scoped_tables();
    let before: Vec<_> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| build(n, &t).unwrap())
        .collect();
    let mut joined = t.clone();
    put(&mut joined, NODES, "n9", &node("n9", "192.168.1.9:2377"));
    let after: Vec<_> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| build(n, &joined).unwrap())
        .collect();
    assert_eq!(
        after[0].version, before[0].version,
        "n1 hosts no mesh backend"
    );
    assert_eq!(after[2].version, before[2].version, "n3 has no tasks");
    // n2 hosts t4, web's backend on the ingress network: the mesh may
    // send it a request from the new node.
    assert_ne!(after[1].version, before[1].version);
    assert!(after[1].peers.contains(&Ipv4Addr::new(192, 168, 1, 9)));
    // And the new node reaches that backend's node.
    assert_eq!(
        build("n9", &joined).unwrap().peers,
        [Ipv4Addr::new(192, 168, 1, 2)]
    );
}

#[test]
fn backends_are_running_tasks_and_those_being_stopped_drain() {
    let a = build("n2", &tables()).unwrap();
    assert_eq!(a.services.len(), 1);
    let svc = &a.services[0];
    assert_eq!((svc.id.as_str(), svc.name.as_str()), ("svc", "web"));
    assert_eq!(svc.vips[0].ip, Ipv4Addr::new(10, 0, 1, 2));
    assert_eq!(svc.ports[0].published, 8080);
    let backends: Vec<_> = svc
        .backends
        .iter()
        .map(|b| (b.task_id.as_str(), b.draining))
        .collect();
    // t5 is still starting; t3 and t6 have ended.
    assert_eq!(backends, [("t1", false), ("t2", true), ("t4", false)]);
}

#[test]
fn a_node_gets_the_dns_names_of_the_services_its_tasks_reach() {
    let mut t = tables();
    let mut service = Service::new("svc", ServiceSpec::new("web", "nginx"));
    service.spec.endpoint_mode = shoal_model::spec::EndpointMode::Dnsrr;
    service
        .spec
        .task
        .network_aliases
        .insert("front".to_owned(), vec!["www".to_owned()]);
    put(&mut t, SERVICES, "svc", &service);
    let mut named = task("t4", 4, "n2", TaskState::Running, TaskState::Running);
    named.spec.hostname = Some("api".to_owned());
    put(&mut t, TASKS, "t4", &named);
    // n1 runs none of t4: it still learns its names.
    let a = build("n1", &t).unwrap();
    let svc = &a.services[0];
    assert_eq!(svc.endpoint_mode, shoal_model::spec::EndpointMode::Dnsrr);
    assert_eq!(svc.aliases["front"], ["www"]);
    let t4 = svc.backends.iter().find(|b| b.task_id == "t4").unwrap();
    assert_eq!(
        (t4.task_name.as_str(), t4.hostname.as_str()),
        ("web.4.t4", "api")
    );
    let t1 = svc.backends.iter().find(|b| b.task_id == "t1").unwrap();
    assert_eq!(
        t1.hostname, "t1",
        "the default hostname is the task ID's prefix"
    );
}

#[test]
fn a_service_waits_for_its_endpoint_before_it_is_balanced() {
    let mut t = tables();
    t.get_mut(ENDPOINTS).unwrap().clear();
    assert!(build("n1", &t).unwrap().services.is_empty());
}

#[test]
fn the_version_changes_with_the_contents_and_only_then() {
    let t = tables();
    let first = build("n1", &t).unwrap();
    assert_eq!(build("n1", &t).unwrap().version, first.version);
    assert_ne!(build("n2", &t).unwrap().version, first.version);
    let mut changed = t.clone();
    let mut t4: Task = serde_json::from_value(changed[TASKS]["t4"].clone()).unwrap();
    t4.desired_state = TaskState::Shutdown;
    put(&mut changed, TASKS, "t4", &t4);
    let second = build("n1", &changed).unwrap();
    assert_ne!(second.version, first.version);
    assert!(
        second.services[0]
            .backends
            .iter()
            .any(|b| b.draining && b.task_id == "t4")
    );
    // A table the dispatcher does not read changes nothing.
    let mut unrelated = t.clone();
    put(&mut unrelated, "removed", "x", &1);
    assert_eq!(build("n1", &unrelated).unwrap().version, first.version);
}

#[test]
fn a_store_without_a_cluster_record_is_an_error_not_an_empty_assignment() {
    let mut t = tables();
    t.remove(CLUSTER);
    assert!(matches!(
        build("n1", &t),
        Err(DispatchError::NoClusterRecord)
    ));
}

#[test]
fn underlay_ip_is_the_host_part_of_the_node_address() {
    assert_eq!(
        underlay_ip("10.1.2.3:2377"),
        Some(Ipv4Addr::new(10, 1, 2, 3))
    );
    assert_eq!(underlay_ip("10.1.2.3"), Some(Ipv4Addr::new(10, 1, 2, 3)));
    assert_eq!(underlay_ip("[::1]:2377"), None);
    assert_eq!(underlay_ip("host:2377"), None);
}

/// `tables()` plus a third node `n3` without tasks, a network `back` with
/// service `db` (VIP 10.0.2.2, task `d1` on n2), and the ingress network
/// where `web`'s task t4 also has an address.
fn scoped_tables() -> Tables {
    let mut t = tables();
    put(&mut t, NODES, "n3", &node("n3", "192.168.1.3:2377"));
    put(
        &mut t,
        NETWORKS,
        "net-back",
        &network("back", 4098, "10.0.2.0/24"),
    );
    let ingress = NetworkRecord {
        ingress: true,
        ..network("ingress", 4096, "10.0.0.0/24")
    };
    put(&mut t, NETWORKS, "net-ingress", &ingress);
    put(
        &mut t,
        SERVICES,
        "db",
        &Service::new("db", ServiceSpec::new("db", "postgres")),
    );
    let endpoint = ServiceEndpoint {
        service_id: "db".to_owned(),
        vips: vec![VirtualIp {
            network: "back".to_owned(),
            ip: Ipv4Addr::new(10, 0, 2, 2),
        }],
        ports: Vec::new(),
        spec_version: 1,
    };
    put(&mut t, ENDPOINTS, "db", &endpoint);
    let mut d1 = task("d1", 1, "n2", TaskState::Running, TaskState::Running);
    d1.service_id = "db".to_owned();
    d1.networks = vec![NetworkAttachment {
        network: "back".to_owned(),
        ip: Some(Ipv4Addr::new(10, 0, 2, 10)),
    }];
    put(&mut t, TASKS, "d1", &d1);
    let mut t4 = task("t4", 4, "n2", TaskState::Running, TaskState::Running);
    t4.networks.push(NetworkAttachment {
        network: "ingress".to_owned(),
        ip: Some(Ipv4Addr::new(10, 0, 0, 14)),
    });
    put(&mut t, TASKS, "t4", &t4);
    t
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| name(i).to_owned()).collect()
}

#[test]
fn a_node_gets_only_the_networks_services_and_backends_its_tasks_reach() {
    let t = scoped_tables();
    // n1's tasks are on front: nothing of back, and the mesh's ingress.
    let n1 = build("n1", &t).unwrap();
    assert_eq!(names(&n1.networks, |n| &n.name), ["front", "ingress"]);
    assert_eq!(names(&n1.services, |s| &s.name), ["web"]);
    assert!(
        n1.remote_tasks.iter().all(|r| r.network != "back"),
        "{:?}",
        n1.remote_tasks
    );
    // n2 runs d1 on back: it gets db, its VIP and its backend.
    let n2 = build("n2", &t).unwrap();
    assert_eq!(
        names(&n2.networks, |n| &n.name),
        ["back", "front", "ingress"]
    );
    let db = n2.services.iter().find(|s| s.name == "db").unwrap();
    assert_eq!(db.vips[0].ip, Ipv4Addr::new(10, 0, 2, 2));
    assert_eq!(names(&db.backends, |b| &b.task_id), ["d1"]);
}

#[test]
fn a_node_without_tasks_gets_only_the_mesh() {
    let t = scoped_tables();
    let n3 = build("n3", &t).unwrap();
    assert_eq!(names(&n3.networks, |n| &n.name), ["ingress"]);
    assert_eq!(names(&n3.services, |s| &s.name), ["web"]);
    let web = &n3.services[0];
    assert!(
        web.vips.is_empty(),
        "web has no VIP on the ingress network here"
    );
    assert_eq!(web.ports[0].published, 8080);
    // Only t4 has an address on the ingress network, and only there.
    let backends: Vec<_> = web
        .backends
        .iter()
        .map(|b| (b.task_id.as_str(), b.network.as_str()))
        .collect();
    assert_eq!(backends, [("t4", "ingress")]);
    let remote: Vec<_> = n3
        .remote_tasks
        .iter()
        .map(|r| (r.network.as_str(), r.ip))
        .collect();
    assert_eq!(remote, [("ingress", Ipv4Addr::new(10, 0, 0, 14))]);
    // Without a published port the mesh has no service: only the ingress
    // network itself (the data plane stays in place on every node).
    let mut quiet = t.clone();
    quiet.get_mut(ENDPOINTS).unwrap().remove("svc");
    let n3 = build("n3", &quiet).unwrap();
    assert_eq!(names(&n3.networks, |n| &n.name), ["ingress"]);
    assert!(n3.services.is_empty(), "{:?}", n3.services);
    assert_eq!(
        n3.peers,
        [Ipv4Addr::new(192, 168, 1, 2)],
        "it accepts VXLAN from the mesh's backend node only"
    );
}

#[test]
fn a_change_to_one_service_reaches_only_the_nodes_concerned() {
    let t = scoped_tables();
    let before: Vec<u64> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| build(n, &t).unwrap().version)
        .collect();
    // db gets a second task on n2: only n2 sees it.
    let mut changed = t.clone();
    let mut d2 = task("d2", 2, "n2", TaskState::Running, TaskState::Running);
    d2.service_id = "db".to_owned();
    d2.networks = vec![NetworkAttachment {
        network: "back".to_owned(),
        ip: Some(Ipv4Addr::new(10, 0, 2, 11)),
    }];
    put(&mut changed, TASKS, "d2", &d2);
    let after: Vec<u64> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| build(n, &changed).unwrap().version)
        .collect();
    assert_eq!(after[0], before[0], "n1 is not on back");
    assert_ne!(after[1], before[1], "n2 runs db");
    assert_eq!(after[2], before[2], "n3 runs nothing");
}

#[test]
fn the_overlay_key_reaches_only_nodes_on_an_encrypted_network_and_a_rotation_wakes_them() {
    use shoal_model::cluster::{OVERLAY_KEYS, OVERLAY_KEYS_KEY, OverlayKeyRing, RotationCause};
    let mut t = scoped_tables();
    let back = NetworkRecord {
        encrypted: true,
        ..network("back", 4098, "10.0.2.0/24")
    };
    put(&mut t, NETWORKS, "net-back", &back);
    let mut ring = OverlayKeyRing::default();
    ring.rotate([1; 32], RotationCause::First, 10, None);
    put(&mut t, OVERLAY_KEYS, OVERLAY_KEYS_KEY, &ring);
    let n1 = build("n1", &t).unwrap();
    assert_eq!(
        n1.overlay_key, None,
        "n1 has no task on an encrypted network"
    );
    let n2 = build("n2", &t).unwrap();
    let key = n2.overlay_key.clone().expect("n2 runs d1 on back");
    assert_eq!((key.generation, key.key), (1, ring.keys[0].key.clone()));
    // A rotation changes n2's assignment only.
    ring.rotate([2; 32], RotationCause::Request, 20, None);
    let mut rotated = t.clone();
    put(&mut rotated, OVERLAY_KEYS, OVERLAY_KEYS_KEY, &ring);
    assert_eq!(build("n1", &rotated).unwrap().version, n1.version);
    let n2_after = build("n2", &rotated).unwrap();
    assert_ne!(n2_after.version, n2.version);
    assert_eq!(n2_after.overlay_key.map(|k| k.generation), Some(2));
}
