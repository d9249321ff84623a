//! shoal's overlay on real nodes: tasks (namespaces) attached by `shoal dp
//! apply`, real traffic on one node and across nodes through VXLAN, network
//! isolation, multi-homed tasks, interop with Swarm's kernel data path, a
//! derived MTU, restart safety and clear errors for bad input.
#![expect(clippy::unwrap_used, reason = "tests fail loudly on any setup error")]

use std::{
    net::Ipv4Addr,
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;
use shoal_dataplane::overlay::state::{
    DesiredState, LocalEndpoint, NetworkSpec, RemoteEndpoint, Underlay,
};
use shoal_netns_tests::{
    lab::{
        Lab, Node,
        cmd::{self, netns_command},
    },
    overlay_kit::{
        Capture, Cidr, MacAddr, Peer, TaskIface, kernel_vxlan, tcp_transfer, vxlan_vnis,
    },
};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipping: lab tests need root");
    }
    root
}

/// A task: a namespace on a node with an address on a network.
#[derive(Clone)]
struct Task {
    netns: String,
    node: usize,
    network: &'static str,
    ip: Ipv4Addr,
    ifname: &'static str,
}

const FRONT: (&str, u32, &str) = ("front", 4097, "10.10.0.0/24");

fn networks(list: &[(&str, u32, &str)]) -> Vec<NetworkSpec> {
    list.iter()
        .map(|(name, vni, subnet)| NetworkSpec {
            name: (*name).into(),
            vni: *vni,
            subnet: subnet.parse().unwrap(),
        })
        .collect()
}

/// The desired state of node `index`: its own tasks local, everyone else's remote.
fn state_for(
    lab: &Lab,
    index: usize,
    nets: &[(&str, u32, &str)],
    tasks: &[Task],
    port: u16,
) -> DesiredState {
    let local = tasks.iter().filter(|t| t.node == index);
    let remote = tasks.iter().filter(|t| t.node != index);
    DesiredState {
        underlay: Underlay {
            iface: "eth0".into(),
            addr: None,
            vxlan_port: port,
        },
        networks: networks(nets),
        endpoints: local
            .map(|t| LocalEndpoint {
                id: format!("{}-{}", t.netns, t.ifname),
                netns: t.netns.clone(),
                ifname: t.ifname.into(),
                network: t.network.into(),
                ip: t.ip,
                mac: None,
            })
            .collect(),
        remote_endpoints: remote
            .map(|t| RemoteEndpoint {
                network: t.network.into(),
                ip: t.ip,
                mac: None,
                node: lab.node(t.node).unwrap().addr(),
            })
            .collect(),
        ..Default::default()
    }
}

/// Run `shoal dp apply` with `state` on `node`; the JSON report.
fn apply(node: &Node, state: &DesiredState) -> Result<Value, String> {
    let path = node.state_dir().join("desired.json");
    std::fs::write(&path, serde_json::to_string_pretty(state).unwrap()).unwrap();
    let out = node
        .shoal(&["dp", "apply", path.to_str().unwrap(), "--format", "json"])
        .map_err(|e| e.to_string())?;
    Ok(serde_json::from_str(&out).unwrap())
}

fn apply_all(lab: &Lab, nets: &[(&str, u32, &str)], tasks: &[Task]) {
    for (i, node) in lab.nodes().iter().enumerate() {
        apply(node, &state_for(lab, i + 1, nets, tasks, 4789)).unwrap();
    }
}

fn is_noop(report: &Value) -> bool {
    ["networks", "task_ifaces", "endpoints"].iter().all(|t| {
        ["added", "updated", "removed"]
            .iter()
            .all(|k| report[t][k] == 0)
    }) && report["veths_created"].as_array().unwrap().is_empty()
        && report["veths_removed"].as_array().unwrap().is_empty()
        && report["node_config_changed"] == false
        && report["underlay_attached"] == false
}

fn task(lab: &mut Lab, name: &str, node: usize, network: &'static str, ip: &str) -> Task {
    let netns = lab.add_netns(name).unwrap();
    Task {
        netns,
        node,
        network,
        ip: ip.parse().unwrap(),
        ifname: "eth0",
    }
}

fn run_in(netns: &str, args: &[&str]) -> Result<String, String> {
    cmd::output(netns_command(netns, args).unwrap()).map_err(|e| e.to_string())
}

fn ping(from: &Task, to: Ipv4Addr) -> Result<(), String> {
    run_in(&from.netns, &["ping", "-c1", "-W1", &to.to_string()]).map(drop)
}

fn counter(node: &Node, name: &str) -> u64 {
    let json: Value =
        serde_json::from_str(&node.shoal(&["dp", "stats", "--format", "json"]).unwrap()).unwrap();
    json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["counter"] == name)
        .unwrap()["packets"]
        .as_u64()
        .unwrap()
}

#[test]
fn tasks_talk_on_one_node_and_across_nodes_in_standard_vxlan() {
    if !is_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(3).build().unwrap();
    let a = task(&mut lab, "a", 1, "front", "10.10.0.2");
    let b = task(&mut lab, "b", 1, "front", "10.10.0.3");
    let c = task(&mut lab, "c", 2, "front", "10.10.0.4");
    let d = task(&mut lab, "d", 3, "front", "10.10.0.5");
    let tasks = [a.clone(), b.clone(), c.clone(), d.clone()];
    apply_all(&lab, &[FRONT], &tasks);

    let pcap = lab.node(1).unwrap().state_dir().join("underlay.pcapng");
    let capture = Capture::start(&lab.switch_netns(), "n1", "udp port 4789", &pcap).unwrap();
    ping(&a, b.ip).unwrap();
    ping(&a, c.ip).unwrap();
    ping(&a, d.ip).unwrap();
    ping(&d, b.ip).unwrap();
    ping(&c, d.ip).unwrap();
    let pcap = capture.stop().unwrap();
    assert!(
        vxlan_vnis(&pcap).unwrap().contains(&4097),
        "tshark saw no VXLAN with VNI 4097"
    );

    let (n1, n3) = (lab.node(1).unwrap(), lab.node(3).unwrap());
    assert!(counter(n1, "local-delivery") >= 2, "a→b stays on node 1");
    assert!(counter(n1, "encap") >= 2);
    assert!(counter(n3, "decap") >= 2);
    assert!(
        counter(n1, "arp-reply") >= 1,
        "the task's ARP was answered by the data plane"
    );
    let endpoints = n1.shoal(&["dp", "endpoints"]).unwrap();
    assert!(
        endpoints.contains("10.10.0.5")
            && endpoints.contains("remote")
            && endpoints.contains("local"),
        "{endpoints}"
    );
    let tunnels = n1.shoal(&["dp", "tunnels"]).unwrap();
    assert!(
        tunnels.contains("198.18.0.12") && tunnels.contains("198.18.0.13"),
        "{tunnels}"
    );
}

#[test]
fn a_100_mb_transfer_across_nodes_arrives_intact_with_a_derived_mtu() {
    if !is_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(2).build().unwrap();
    let a = task(&mut lab, "a", 1, "front", "10.10.0.2");
    let c = task(&mut lab, "c", 2, "front", "10.10.0.3");
    apply_all(&lab, &[FRONT], &[a.clone(), c.clone()]);
    let mtu = run_in(&a.netns, &["cat", "/sys/class/net/eth0/mtu"]).unwrap();
    assert_eq!(
        mtu.trim(),
        "1450",
        "task MTU = underlay 1500 − 50 bytes of VXLAN"
    );

    let (sent, received) = tcp_transfer(&a.netns, &c.netns, c.ip, 100 << 20).unwrap();
    assert_eq!(sent, received, "the 100 MB stream was corrupted in transit");
    // Full-size packets, not just the stream: a DF ping of exactly the MTU passes.
    run_in(
        &a.netns,
        &[
            "ping",
            "-c1",
            "-W1",
            "-M",
            "do",
            "-s",
            "1422",
            &c.ip.to_string(),
        ],
    )
    .unwrap();
    assert!(
        run_in(
            &a.netns,
            &[
                "ping",
                "-c1",
                "-W1",
                "-M",
                "do",
                "-s",
                "1423",
                &c.ip.to_string()
            ]
        )
        .is_err()
    );
}

#[test]
fn networks_are_isolated_and_a_task_on_two_networks_reaches_both() {
    if !is_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(2).build().unwrap();
    let x = task(&mut lab, "x", 1, "front", "10.10.0.2");
    // The same address space on another VNI: only the VNI separates them.
    let back = ("back", 4098, "10.10.0.0/24");
    let y = task(&mut lab, "y", 2, "back", "10.10.0.9");
    let y_local = task(&mut lab, "yl", 1, "back", "10.10.0.10");
    let z_netns = lab.add_netns("z").unwrap();
    let z_front = Task {
        netns: z_netns.clone(),
        node: 2,
        network: "front",
        ip: "10.10.0.3".parse().unwrap(),
        ifname: "eth0",
    };
    let z_back = Task {
        netns: z_netns,
        node: 2,
        network: "back",
        ip: "10.10.0.11".parse().unwrap(),
        ifname: "eth1",
    };
    let tasks = [
        x.clone(),
        y.clone(),
        y_local.clone(),
        z_front.clone(),
        z_back.clone(),
    ];
    apply_all(&lab, &[FRONT, back], &tasks);

    let n1 = lab.node(1).unwrap();
    let unknown_before = counter(n1, "unknown-endpoint");
    assert!(ping(&x, y.ip).is_err(), "front reached back across nodes");
    assert!(
        ping(&x, y_local.ip).is_err(),
        "front reached back on the same node"
    );
    assert!(
        counter(n1, "unknown-endpoint") > unknown_before,
        "isolation drops are counted"
    );
    // z has eth0 on front and eth1 on back: it reaches both.
    ping(&z_front, x.ip).unwrap();
    run_in(
        &z_back.netns,
        &["ping", "-c1", "-W1", "-I", "eth1", &y.ip.to_string()],
    )
    .unwrap();
    run_in(
        &z_back.netns,
        &["ping", "-c1", "-W1", "-I", "eth1", &y_local.ip.to_string()],
    )
    .unwrap();
}

#[test]
fn a_kernel_vxlan_node_with_static_fdb_entries_interoperates() {
    if !is_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(2).build().unwrap();
    let a = task(&mut lab, "a", 1, "front", "10.10.0.2");
    let k_netns = lab.add_netns("k").unwrap();
    let k_ip: Ipv4Addr = "10.10.0.7".parse().unwrap();
    let (n1, n2) = (lab.node(1).unwrap(), lab.node(2).unwrap());
    // Node 1 runs shoal; node 2 only a kernel vxlan device, a bridge and static entries.
    let k = Task {
        netns: k_netns.clone(),
        node: 2,
        network: "front",
        ip: k_ip,
        ifname: "eth0",
    };
    apply(
        n1,
        &state_for(&lab, 1, &[FRONT], &[a.clone(), k.clone()], 4789),
    )
    .unwrap();
    let kernel_task = TaskIface {
        netns: k_netns.clone(),
        addr: Cidr::new(k_ip, 24).unwrap(),
        mac: MacAddr::from_ip(k_ip),
        mtu: 1450,
    };
    let peer = Peer {
        ip: a.ip,
        mac: MacAddr::from_ip(a.ip),
        node: n1.addr(),
    };
    kernel_vxlan::attach(n2, 4097, &kernel_task, &[peer]).unwrap();

    ping(&a, k_ip).unwrap();
    run_in(&k_netns, &["ping", "-c1", "-W1", &a.ip.to_string()]).unwrap();
    let (sent, received) = tcp_transfer(&a.netns, &k_netns, k_ip, 20 << 20).unwrap();
    assert_eq!(sent, received);
    let (sent, received) = tcp_transfer(&k_netns, &a.netns, a.ip, 20 << 20).unwrap();
    assert_eq!(sent, received);
    assert!(counter(n1, "decap") > 0 && counter(n1, "encap") > 0);
}

#[test]
fn the_data_path_port_is_configurable() {
    if !is_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(2).build().unwrap();
    let a = task(&mut lab, "a", 1, "front", "10.10.0.2");
    let c = task(&mut lab, "c", 2, "front", "10.10.0.3");
    let tasks = [a.clone(), c.clone()];
    for (i, node) in lab.nodes().iter().enumerate() {
        apply(node, &state_for(&lab, i + 1, &[FRONT], &tasks, 4790)).unwrap();
    }
    let pcap = lab.node(1).unwrap().state_dir().join("underlay.pcapng");
    let capture = Capture::start(&lab.switch_netns(), "n1", "udp port 4790", &pcap).unwrap();
    run_in(
        &a.netns,
        &["ping", "-c3", "-i", "0.2", "-W1", &c.ip.to_string()],
    )
    .unwrap();
    let pcap = capture.stop().unwrap();
    let decoded = cmd::output({
        let mut c = std::process::Command::new("tshark");
        c.args([
            "-r",
            pcap.to_str().unwrap(),
            "-d",
            "udp.port==4790,vxlan",
            "-T",
            "fields",
            "-e",
            "vxlan.vni",
        ]);
        c
    })
    .unwrap();
    let summary = cmd::output({
        let mut c = std::process::Command::new("tshark");
        c.args(["-r", pcap.to_str().unwrap()]);
        c
    })
    .unwrap();
    assert!(
        decoded.lines().any(|l| l.trim() == "4097"),
        "no VXLAN on port 4790: {decoded:?}\n{summary}"
    );
}

#[test]
fn reapply_changes_nothing_and_flows_survive_reapplies_and_removals() {
    if !is_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(2).build().unwrap();
    let a = task(&mut lab, "a", 1, "front", "10.10.0.2");
    let b = task(&mut lab, "b", 1, "front", "10.10.0.3");
    let c = task(&mut lab, "c", 2, "front", "10.10.0.4");
    let tasks = [a.clone(), b.clone(), c.clone()];
    apply_all(&lab, &[FRONT], &tasks);
    let n1 = lab.node(1).unwrap();
    let state = state_for(&lab, 1, &[FRONT], &tasks, 4789);
    assert!(
        is_noop(&apply(n1, &state).unwrap()),
        "second apply changed something"
    );

    // A transfer keeps running while the applying process runs again and
    // again (each run exits; only the pins hold the data plane).
    let (from, to, ip) = (a.netns.clone(), c.netns.clone(), c.ip);
    let transfer = thread::spawn(move || tcp_transfer(&from, &to, ip, 300 << 20));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !transfer.is_finished() && Instant::now() < deadline {
        assert!(is_noop(&apply(n1, &state).unwrap()));
        thread::sleep(Duration::from_millis(50));
    }
    let (sent, received) = transfer.join().unwrap().unwrap();
    assert_eq!(sent, received);

    // Dropping b from the desired state removes its interface and endpoint.
    let without_b = state_for(&lab, 1, &[FRONT], &[a.clone(), c.clone()], 4789);
    let report = apply(n1, &without_b).unwrap();
    assert_eq!(
        report["veths_removed"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    assert_eq!(report["endpoints"]["removed"], 1, "{report}");
    assert!(
        run_in(&b.netns, &["ip", "link", "show", "eth0"]).is_err(),
        "b's interface is still there"
    );
    ping(&a, c.ip).unwrap();
}

#[test]
fn bad_desired_state_is_refused_and_changes_nothing() {
    if !is_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(1).build().unwrap();
    let a = task(&mut lab, "a", 1, "front", "10.10.0.2");
    let n1 = lab.node(1).unwrap();
    apply(
        n1,
        &state_for(&lab, 1, &[FRONT], std::slice::from_ref(&a), 4789),
    )
    .unwrap();
    let before = n1.shoal(&["dp", "endpoints", "--format", "json"]).unwrap();

    let mut missing_netns = state_for(&lab, 1, &[FRONT], std::slice::from_ref(&a), 4789);
    missing_netns.endpoints[0].netns = "no-such-netns".into();
    let err = apply(n1, &missing_netns).unwrap_err();
    assert!(
        err.contains("network namespace no-such-netns does not exist"),
        "{err}"
    );

    let mut outside = state_for(&lab, 1, &[FRONT], std::slice::from_ref(&a), 4789);
    outside.endpoints[0].ip = "10.99.0.2".parse().unwrap();
    let err = apply(n1, &outside).unwrap_err();
    assert!(err.contains("not a usable host address"), "{err}");

    let mut no_underlay = state_for(&lab, 1, &[FRONT], std::slice::from_ref(&a), 4789);
    no_underlay.underlay.iface = "eth9".into();
    let err = apply(n1, &no_underlay).unwrap_err();
    assert!(err.contains("underlay interface eth9"), "{err}");

    let path = n1.state_dir().join("broken.json");
    std::fs::write(&path, "{\"underlay\": ").unwrap();
    let err = n1
        .shoal(&["dp", "apply", path.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("parsing"), "{err}");

    assert_eq!(
        n1.shoal(&["dp", "endpoints", "--format", "json"]).unwrap(),
        before
    );
}
