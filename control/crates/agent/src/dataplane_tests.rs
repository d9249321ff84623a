//! The data-plane state made from assignments.

use std::net::Ipv4Addr;

use super::*;
use shoal_model::assignment::{LbBackend, RemoteTask};
use shoal_model::cluster::NetworkRecord;
use shoal_model::spec::{NetworkAttachment, ServiceSpec, Task, TaskState, TaskStatus};

const N2: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);
const N3: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 3);

fn ip(last: u8, net: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, net, last)
}

fn network(name: &str, vni: u32, net: u8) -> NetworkRecord {
    NetworkRecord {
        id: name.to_owned(),
        name: name.to_owned(),
        driver: "overlay".to_owned(),
        vni,
        subnet: format!("10.0.{net}.0/24"),
        gateway: ip(1, net),
        encrypted: false,
        internal: false,
        ingress: name == INGRESS_NETWORK,
        labels: Default::default(),
        created_at: 0,
    }
}

fn local_task(id: &str, last: u8) -> AssignedTask {
    AssignedTask {
        task: Task {
            id: id.to_owned(),
            service_id: "svc".to_owned(),
            slot: 1,
            node_id: Some("n1".to_owned()),
            desired_state: TaskState::Running,
            status: TaskStatus::default(),
            spec: ServiceSpec::new("web", "busybox").task,
            spec_version: 1,
            networks: ["front", INGRESS_NETWORK]
                .iter()
                .zip([1, 0])
                .map(|(net, n)| NetworkAttachment {
                    network: (*net).to_owned(),
                    ip: Some(ip(last, n)),
                })
                .collect(),
        },
        name: format!("web.{last}"),
        secrets: Vec::new(),
        configs: Vec::new(),
    }
}

fn port(published: u16, target: u16, mode: PublishMode) -> PortConfig {
    PortConfig {
        published,
        target,
        protocol: Protocol::Tcp,
        mode,
    }
}

fn backend(task: &str, network: &str, addr: Ipv4Addr, draining: bool) -> LbBackend {
    LbBackend {
        task_id: task.to_owned(),
        network: network.to_owned(),
        ip: addr,
        draining,
        task_name: format!("web.1.{task}"),
        hostname: "web.1".to_owned(),
    }
}

/// `web` on `front` and `ingress`: t1 here, t2 (draining) on node 2;
/// 8080 through the mesh to 80, 9090 on the hosts to 90.
fn assignment() -> Assignment {
    Assignment {
        version: 1,
        node_id: "n1".to_owned(),
        data_path_port: 4789,
        tasks: vec![local_task("t1", 10)],
        networks: vec![network(INGRESS_NETWORK, 4096, 0), network("front", 4097, 1)],
        remote_tasks: vec![
            RemoteTask {
                network: "front".to_owned(),
                ip: ip(11, 1),
                node_addr: N2,
            },
            RemoteTask {
                network: INGRESS_NETWORK.to_owned(),
                ip: ip(11, 0),
                node_addr: N2,
            },
        ],
        // N3 runs nothing here but may forward mesh requests.
        peers: vec![N2, N3],
        wg_peers: Vec::new(),
        overlay_key: None,
        services: vec![LbService {
            id: "svc".to_owned(),
            name: "web".to_owned(),
            vips: vec![
                VirtualIp {
                    network: "front".to_owned(),
                    ip: ip(2, 1),
                },
                VirtualIp {
                    network: INGRESS_NETWORK.to_owned(),
                    ip: ip(2, 0),
                },
            ],
            ports: vec![
                port(8080, 80, PublishMode::Ingress),
                port(9090, 90, PublishMode::Host),
            ],
            backends: vec![
                backend("t1", "front", ip(10, 1), false),
                backend("t1", INGRESS_NETWORK, ip(10, 0), false),
                backend("t2", "front", ip(11, 1), true),
                backend("t2", INGRESS_NETWORK, ip(11, 0), true),
            ],
            endpoint_mode: shoal_model::spec::EndpointMode::Vip,
            aliases: std::collections::BTreeMap::new(),
        }],
    }
}

fn underlay() -> Underlay {
    Underlay {
        iface: "eth0".to_owned(),
        addr: Some(Ipv4Addr::new(192, 168, 1, 1)),
        vxlan_port: 4789,
        wg_iface: None,
        xdp_fast_path: false,
    }
}

#[test]
fn a_running_task_gets_one_interface_per_network_in_its_netns_ingress_first() {
    let a = assignment();
    let local = [LocalTask {
        task: &a.tasks[0],
        netns: "shoal-t1",
    }];
    let state = desired_state(&a, &local, underlay());
    state.validate().unwrap();
    let ifaces: Vec<_> = state
        .endpoints
        .iter()
        .map(|e| (e.id.as_str(), e.netns.as_str(), e.ifname.as_str(), e.ip))
        .collect();
    assert_eq!(
        ifaces,
        [
            // eth0, listed first, gets the default route: mesh clients
            // are answered from the ingress address.
            ("t1@ingress", "shoal-t1", "eth0", ip(10, 0)),
            ("t1@front", "shoal-t1", "eth1", ip(10, 1)),
        ]
    );
    let remote: Vec<_> = state
        .remote_endpoints
        .iter()
        .map(|r| (r.ip, r.node))
        .collect();
    assert_eq!(remote, [(ip(11, 1), N2), (ip(11, 0), N2)]);
    assert_eq!(state.networks.len(), 2);
    // Every node, with tasks or not, is a peer VXLAN is accepted from.
    assert_eq!(state.peers, [N2, N3]);
}

#[test]
fn each_vip_balances_its_own_network_and_draining_tasks_stay_marked() {
    let a = assignment();
    let state = desired_state(&a, &[], underlay());
    state.validate().unwrap();
    let names: Vec<_> = state.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web@front", "web@ingress"]);
    let front = &state.services[0];
    assert_eq!(front.vip, ip(2, 1));
    let ports: Vec<_> = front
        .ports
        .iter()
        .map(|p| (p.port, p.target_port()))
        .collect();
    // The targets, then every other port on TCP and UDP (`0`).
    assert_eq!(ports, [(80, 80), (90, 90), (0, 0), (0, 0)]);
    let backends: Vec<_> = front.backends.iter().map(|b| (b.ip, b.draining)).collect();
    assert_eq!(backends, [(ip(10, 1), false), (ip(11, 1), true)]);
}

#[test]
fn the_mesh_publishes_everywhere_and_host_ports_only_where_a_task_runs() {
    let a = assignment();
    // No task of the service here: only the routing mesh's port.
    let elsewhere = desired_state(&a, &[], underlay());
    let published: Vec<_> = elsewhere
        .published
        .iter()
        .map(|p| (p.port, p.service.as_str(), p.target, p.mode))
        .collect();
    assert_eq!(
        published,
        [(8080, "web@ingress", 80, DpPublishMode::Ingress)]
    );
    let local = [LocalTask {
        task: &a.tasks[0],
        netns: "shoal-t1",
    }];
    let here = desired_state(&a, &local, underlay());
    here.validate().unwrap();
    assert!(here.published.iter().any(|p| p.port == 9090
        && p.mode == DpPublishMode::Host
        && p.service == "web@ingress"
        && p.target == 90));
}

#[test]
fn an_address_claimed_twice_keeps_the_local_task_and_the_state_stays_valid() {
    let mut a = assignment();
    // A stale remote row with the local task's address.
    a.remote_tasks.push(RemoteTask {
        network: "front".to_owned(),
        ip: ip(10, 1),
        node_addr: N2,
    });
    let local = [LocalTask {
        task: &a.tasks[0],
        netns: "shoal-t1",
    }];
    let state = desired_state(&a, &local, underlay());
    state.validate().unwrap();
    assert!(!state.remote_endpoints.iter().any(|r| r.ip == ip(10, 1)));
}

#[test]
fn a_service_without_an_ingress_vip_publishes_no_mesh_port() {
    let mut a = assignment();
    a.services[0].vips.retain(|v| v.network == "front");
    let state = desired_state(&a, &[], underlay());
    state.validate().unwrap();
    assert!(state.published.is_empty());
}

#[test]
fn an_internal_network_reaches_the_data_plane_without_egress() {
    let mut a = assignment();
    a.networks[0].internal = true;
    let state = desired_state(&a, &[], underlay());
    let flags: Vec<(String, bool)> = state
        .networks
        .iter()
        .map(|n| (n.name.clone(), n.internal))
        .collect();
    let want: Vec<(String, bool)> = a
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i == 0))
        .collect();
    assert_eq!(flags, want);
}

#[test]
fn each_vip_entry_names_its_network() {
    let a = assignment();
    let state = desired_state(&a, &[], underlay());
    assert!(!state.services.is_empty());
    for svc in &state.services {
        let network = svc.network.as_deref().unwrap_or_default();
        assert!(
            svc.name.ends_with(&format!("@{network}")),
            "{} is on {network:?}",
            svc.name
        );
    }
}
