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
use shoal_netns_tests::{
    lab::cmd::{self, netns_command},
    overlay_kit::{
        Capture, Cidr, MacAddr, Peer, TaskIface, dp_counter, kernel_vxlan, tcp_transfer, vxlan_vnis,
    },
    scenario::{Cluster, Task},
};

/// A cluster of `nodes` nodes with network `front` (VNI 4097, 10.10.0.0/24).
fn front(nodes: usize) -> Cluster {
    let mut c = Cluster::new(nodes).unwrap();
    c.network("front", 4097, "10.10.0.0/24");
    c
}

fn is_noop(report: &Value) -> bool {
    ["networks", "task_ifaces", "endpoints", "peers"]
        .iter()
        .all(|t| {
            ["added", "updated", "removed"]
                .iter()
                .all(|k| report[t][k] == 0)
        })
        && report["veths_created"].as_array().unwrap().is_empty()
        && report["veths_removed"].as_array().unwrap().is_empty()
        && report["node_config_changed"] == false
        && report["underlay_attached"] == false
}

fn run_in(netns: &str, args: &[&str]) -> Result<String, String> {
    cmd::output(netns_command(netns, args).unwrap()).map_err(|e| e.to_string())
}

fn ping(from: &Task, to: Ipv4Addr) -> Result<(), String> {
    run_in(&from.netns, &["ping", "-c1", "-W1", &to.to_string()]).map(drop)
}

/// VNIs tshark decodes as VXLAN on node 1's switch port while `traffic` runs.
fn vnis_seen(
    c: &Cluster,
    filter: &str,
    decode_as: Option<u16>,
    traffic: impl FnOnce(),
) -> Vec<String> {
    let pcap = c.lab.node(1).unwrap().state_dir().join("underlay.pcapng");
    let capture = Capture::start(&c.lab.switch_netns(), "n1", filter, &pcap).unwrap();
    traffic();
    let pcap = capture.stop().unwrap();
    let mut tshark = std::process::Command::new("tshark");
    tshark.args([
        "-r",
        pcap.to_str().unwrap(),
        "-T",
        "fields",
        "-e",
        "vxlan.vni",
    ]);
    if let Some(port) = decode_as {
        tshark.args(["-d", &format!("udp.port=={port},vxlan")]);
    }
    cmd::output(tshark)
        .unwrap()
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn tasks_talk_on_one_node_and_across_nodes_in_standard_vxlan() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut c = front(3);
    let a = c.task("a", 1, "front", "10.10.0.2").unwrap();
    let b = c.task("b", 1, "front", "10.10.0.3").unwrap();
    let cc = c.task("c", 2, "front", "10.10.0.4").unwrap();
    let d = c.task("d", 3, "front", "10.10.0.5").unwrap();
    c.apply_all().unwrap();

    let pcap = c.lab.node(1).unwrap().state_dir().join("vnis.pcapng");
    let capture = Capture::start(&c.lab.switch_netns(), "n1", "udp port 4789", &pcap).unwrap();
    ping(&a, b.ip).unwrap();
    ping(&a, cc.ip).unwrap();
    ping(&a, d.ip).unwrap();
    ping(&d, b.ip).unwrap();
    ping(&cc, d.ip).unwrap();
    let pcap = capture.stop().unwrap();
    assert!(
        vxlan_vnis(&pcap).unwrap().contains(&4097),
        "tshark saw no VXLAN with VNI 4097"
    );

    let (n1, n3) = (c.lab.node(1).unwrap(), c.lab.node(3).unwrap());
    assert!(dp_counter(n1, "local-delivery") >= 2, "a→b stays on node 1");
    assert!(dp_counter(n1, "encap") >= 2);
    assert!(dp_counter(n3, "decap") >= 2);
    assert!(
        dp_counter(n1, "arp-reply") >= 1,
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
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut c = front(2);
    let a = c.task("a", 1, "front", "10.10.0.2").unwrap();
    let b = c.task("c", 2, "front", "10.10.0.3").unwrap();
    c.apply_all().unwrap();
    let mtu = run_in(&a.netns, &["cat", "/sys/class/net/eth0/mtu"]).unwrap();
    assert_eq!(
        mtu.trim(),
        "1450",
        "task MTU = underlay 1500 − 50 bytes of VXLAN"
    );

    let (sent, received) = tcp_transfer(&a.netns, &b.netns, b.ip, 100 << 20).unwrap();
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
            &b.ip.to_string(),
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
                &b.ip.to_string()
            ]
        )
        .is_err()
    );
}

#[test]
fn networks_are_isolated_and_a_task_on_two_networks_reaches_both() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut c = front(2);
    // The same address space on another VNI: only the VNI separates them.
    c.network("back", 4098, "10.10.0.0/24");
    let x = c.task("x", 1, "front", "10.10.0.2").unwrap();
    let y = c.task("y", 2, "back", "10.10.0.9").unwrap();
    let y_local = c.task("yl", 1, "back", "10.10.0.10").unwrap();
    let z_front = c.task("z", 2, "front", "10.10.0.3").unwrap();
    let z_back = c
        .second_iface(&z_front, "eth1", "back", "10.10.0.11")
        .unwrap();
    c.apply_all().unwrap();

    let n1 = c.lab.node(1).unwrap();
    let unknown_before = dp_counter(n1, "unknown-endpoint");
    assert!(ping(&x, y.ip).is_err(), "front reached back across nodes");
    assert!(
        ping(&x, y_local.ip).is_err(),
        "front reached back on the same node"
    );
    assert!(
        dp_counter(n1, "unknown-endpoint") > unknown_before,
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
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut c = front(2);
    let a = c.task("a", 1, "front", "10.10.0.2").unwrap();
    // Node 2 runs no shoal: only a kernel vxlan device, a bridge and static entries.
    let k = c.task("k", 2, "front", "10.10.0.7").unwrap();
    c.apply(1).unwrap();
    let (n1, n2) = (c.lab.node(1).unwrap(), c.lab.node(2).unwrap());
    let kernel_task = TaskIface {
        netns: k.netns.clone(),
        addr: Cidr::new(k.ip, 24).unwrap(),
        mac: MacAddr::from_ip(k.ip),
        mtu: 1450,
    };
    let peer = Peer {
        ip: a.ip,
        mac: MacAddr::from_ip(a.ip),
        node: n1.addr(),
    };
    kernel_vxlan::attach(n2, 4097, &kernel_task, &[peer]).unwrap();

    ping(&a, k.ip).unwrap();
    ping(&k, a.ip).unwrap();
    let (sent, received) = tcp_transfer(&a.netns, &k.netns, k.ip, 20 << 20).unwrap();
    assert_eq!(sent, received);
    let (sent, received) = tcp_transfer(&k.netns, &a.netns, a.ip, 20 << 20).unwrap();
    assert_eq!(sent, received);
    assert!(dp_counter(n1, "decap") > 0 && dp_counter(n1, "encap") > 0);
}

#[test]
fn the_data_path_port_is_configurable() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut c = front(2);
    c.vxlan_port = 4790;
    let a = c.task("a", 1, "front", "10.10.0.2").unwrap();
    let b = c.task("c", 2, "front", "10.10.0.3").unwrap();
    c.apply_all().unwrap();
    let vnis = vnis_seen(&c, "udp port 4790", Some(4790), || {
        run_in(
            &a.netns,
            &["ping", "-c3", "-i", "0.2", "-W1", &b.ip.to_string()],
        )
        .unwrap();
    });
    assert!(
        vnis.iter().any(|v| v == "4097"),
        "no VXLAN on port 4790: {vnis:?}"
    );
}

#[test]
fn reapply_changes_nothing_and_flows_survive_reapplies_and_removals() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut c = front(2);
    let a = c.task("a", 1, "front", "10.10.0.2").unwrap();
    let b = c.task("b", 1, "front", "10.10.0.3").unwrap();
    let remote = c.task("c", 2, "front", "10.10.0.4").unwrap();
    c.apply_all().unwrap();
    assert!(
        is_noop(&c.apply(1).unwrap()),
        "second apply changed something"
    );

    // A transfer keeps running while the applying process runs again and
    // again (each run exits; only the pins hold the data plane).
    let (from, to, ip) = (a.netns.clone(), remote.netns.clone(), remote.ip);
    let transfer = thread::spawn(move || tcp_transfer(&from, &to, ip, 300 << 20));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !transfer.is_finished() && Instant::now() < deadline {
        assert!(is_noop(&c.apply(1).unwrap()));
        thread::sleep(Duration::from_millis(50));
    }
    let (sent, received) = transfer.join().unwrap().unwrap();
    assert_eq!(sent, received);

    // An apply killed at any point of a change leaves nothing the next
    // apply cannot finish: add a task, kill the applying process at
    // growing delays, then let one run to the end.
    let late = c.task("late", 1, "front", "10.10.0.9").unwrap();
    let node = c.lab.node(1).unwrap();
    let path = node.state_dir().join("desired.json");
    std::fs::write(&path, serde_json::to_vec(&c.state_for(1).unwrap()).unwrap()).unwrap();
    for delay_ms in [0, 5, 10, 20, 40, 80] {
        let mut child = node
            .shoal_command(&["dp", "apply", path.to_str().unwrap()])
            .spawn()
            .unwrap();
        thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
    }
    c.apply_all().unwrap();
    ping(&late, remote.ip).unwrap();
    ping(&a, late.ip).unwrap();
    c.tasks.retain(|t| t.name != "late");
    c.apply_all().unwrap();

    // Dropping b from the desired state removes its interface and endpoint.
    c.tasks.retain(|t| t.name != "b");
    let report = c.apply(1).unwrap();
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
    ping(&a, remote.ip).unwrap();
}

#[test]
fn bad_desired_state_is_refused_and_changes_nothing() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut c = front(1);
    c.task("a", 1, "front", "10.10.0.2").unwrap();
    c.apply(1).unwrap();
    let n1 = c.lab.node(1).unwrap();
    let before = n1.shoal(&["dp", "endpoints", "--format", "json"]).unwrap();

    let mut missing_netns = c.state_for(1).unwrap();
    missing_netns.endpoints[0].netns = "no-such-netns".into();
    let err = c.apply_state(1, &missing_netns).unwrap_err().to_string();
    assert!(
        err.contains("network namespace no-such-netns does not exist"),
        "{err}"
    );

    let mut outside = c.state_for(1).unwrap();
    outside.endpoints[0].ip = "10.99.0.2".parse().unwrap();
    let err = c.apply_state(1, &outside).unwrap_err().to_string();
    assert!(err.contains("not a usable host address"), "{err}");

    let mut no_underlay = c.state_for(1).unwrap();
    no_underlay.underlay.iface = "eth9".into();
    let err = c.apply_state(1, &no_underlay).unwrap_err().to_string();
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
