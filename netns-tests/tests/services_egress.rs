//! Egress on real containers in a two-node lab swarm: a task reaches a
//! host outside the cluster ("world", on the underlay but not a node) over
//! TCP, UDP and ping, and the world sees the task's node's address (source
//! NAT in eBPF); a task reaches its own node; a task of an `--internal`
//! network reaches nothing outside.
//!
//! ```text
//!   task (open) ──► node n? 198.18.0.1x (SNAT) ──► world 198.18.0.20x :8000/tcp :8001/udp
//!   task (open) ──► its own node :9000/tcp (untranslated)
//!   task (closed, --internal) ──✗ world              counted no-egress
//! ```
#![expect(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::net::Ipv4Addr;
use std::process::{Command, Output};

use serde_json::Value;
use shoal_netns_tests::lab::Node;
use shoal_netns_tests::overlay_kit::stats::dp_counter;
use shoal_netns_tests::services_kit::{ServiceLab, is_running, node_named};
use shoal_netns_tests::swarm_kit::{eventually, field};

/// Runs `args` inside task `task`'s network namespace.
fn in_task(task: &Value, args: &[&str]) -> Output {
    let netns = format!("shoal-{}", field(task, "id"));
    Command::new("ip")
        .args(["netns", "exec", &netns])
        .args(args)
        .output()
        .unwrap()
}

/// The one line a `socat` peer-address server answers `task` with over
/// `proto` (`TCP` or `UDP`), if it answered within 3 s.
fn peer_seen_by(task: &Value, proto: &str, addr: Ipv4Addr, port: u16) -> Option<String> {
    let target = match proto {
        "TCP" => format!("TCP:{addr}:{port},connect-timeout=3"),
        _ => format!("{proto}:{addr}:{port}"),
    };
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo hello | ip netns exec shoal-{} socat -T3 - {target}",
            field(task, "id")
        ))
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !line.is_empty()).then_some(line)
}

/// Starts TCP and UDP servers on `node` answering with the peer's address.
fn serve_peer_addr(node: &Node, tcp: u16, udp: u16) {
    let reply = "SYSTEM:echo $SOCAT_PEERADDR";
    node.spawn(&["socat", &format!("TCP-LISTEN:{tcp},fork,reuseaddr"), reply])
        .unwrap();
    node.spawn(&[
        "socat",
        &format!("UDP-RECVFROM:{udp},fork,reuseaddr"),
        reply,
    ])
    .unwrap();
}

fn one_task(lab: &ServiceLab, name: &str, network: &str) -> Value {
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--network",
        network,
        "web:1",
    ])
    .unwrap();
    lab.wait_running(name, 1);
    lab.tasks(name).into_iter().find(is_running).unwrap()
}

#[test]
fn tasks_reach_the_world_as_their_node_unless_their_network_is_internal() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = ServiceLab::new(2);
    let world = lab.client("world");
    serve_peer_addr(&world, 8000, 8001);
    lab.cli(&["network", "create", "open"]).unwrap();
    lab.cli(&["network", "create", "--internal", "closed"])
        .unwrap();
    let task = one_task(&lab, "out", "open");
    let node = node_named(&lab.nodes, field(&task, "node_hostname")).lab_node();
    let node_addr = node.addr().to_string();

    let seen = eventually("the world answering the task over TCP", || {
        peer_seen_by(&task, "TCP", world.addr(), 8000)
    });
    assert_eq!(seen, node_addr, "the world must see the task's node");
    let report: Value = serde_json::from_str(
        &node
            .shoal(&["dp", "conntrack", "--format", "json"])
            .unwrap(),
    )
    .unwrap();
    let remote = format!("{}:8000", world.addr());
    let flow = report["egress"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["remote"] == remote.as_str())
        .unwrap_or_else(|| panic!("no egress flow to {remote} in dp conntrack: {report}"));
    // The node holds no socket on the task's port and no other task talks
    // to the world: the flow keeps the task's own port, as Linux's NAT does.
    let nat_port = flow["nat_port"].as_u64().unwrap();
    let task_port = flow["task"].as_str().and_then(|t| t.rsplit(':').next());
    assert_eq!(
        task_port,
        Some(nat_port.to_string().as_str()),
        "the NAT port must be the task's own: {flow}"
    );
    let seen = eventually("the world answering the task over UDP", || {
        peer_seen_by(&task, "UDP", world.addr(), 8001)
    });
    assert_eq!(seen, node_addr, "UDP too");
    let ping = in_task(
        &task,
        &["ping", "-c", "1", "-W", "2", &world.addr().to_string()],
    );
    assert!(ping.status.success(), "ping the world: {ping:?}");
    // A closed UDP port: the world's "port unreachable" is translated back,
    // so the task's socket learns of it at once instead of timing out.
    let closed = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo hello | ip netns exec shoal-{} socat -T3 - UDP:{}:9999",
            field(&task, "id"),
            world.addr()
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&closed.stderr);
    assert!(
        err.contains("Connection refused"),
        "UDP to a closed port of the world: {err}"
    );

    // Its own node: reached untranslated, answered back into the task.
    serve_peer_addr(node, 9000, 9001);
    let seen = eventually("the task's own node answering", || {
        peer_seen_by(&task, "TCP", node.addr(), 9000)
    });
    let task_addr = task["networks"][0]["ip"].as_str().unwrap();
    assert_eq!(seen, task_addr, "the node sees the task itself");

    let shut = one_task(&lab, "shut", "closed");
    let shut_node = node_named(&lab.nodes, field(&shut, "node_hostname")).lab_node();
    // The internal task's own network works (its interface is up and
    // programmed) before its egress is judged.
    let before = dp_counter(shut_node, "no-egress");
    assert_eq!(peer_seen_by(&shut, "TCP", world.addr(), 8000), None);
    let ping = in_task(
        &shut,
        &["ping", "-c", "1", "-W", "2", &world.addr().to_string()],
    );
    assert!(!ping.status.success(), "an internal task pinged the world");
    let after = dp_counter(shut_node, "no-egress");
    assert!(
        after > before,
        "the internal task's packets were not counted as no-egress ({before} → {after})"
    );
}
