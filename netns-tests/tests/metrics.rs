//! Prometheus metrics of real daemons in a lab: a manager started with
//! `--metrics-addr` answers `GET /metrics` from another node, its drop
//! counters follow frames dropped on its underlay, and its raft gauges
//! follow writes to the store.
//!
//! ```text
//!   n1 (manager, --metrics-addr n1:9323) ── n2 (scrapes, sends bad frames)
//! ```

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;
use shoal_netns_tests::lab::{Lab, Node};
use shoal_netns_tests::swarm_kit::{SwarmNode, eventually, init};

const METRICS_PORT: u16 = 9323;

/// The value of the sample `series` (name and labels, exactly as exposed)
/// in an exposition, if present.
fn sample(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .filter_map(|line| line.strip_prefix(series))
        .find_map(|rest| rest.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// `GET /metrics` on `at` from `from`'s namespace.
fn scrape(from: &Node, at: Ipv4Addr) -> String {
    let url = format!("http://{at}:{METRICS_PORT}/metrics");
    from.exec(&["curl", "-sS", "--max-time", "5", &url])
        .unwrap_or_else(|e| panic!("scrape {url}: {e}"))
}

fn mac_of(node: &Node) -> [u8; 6] {
    let text = node
        .exec(&["cat", "/sys/class/net/eth0/address"])
        .expect("mac");
    let bytes: Vec<u8> = text
        .trim()
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).expect("hex"))
        .collect();
    bytes.try_into().expect("six bytes")
}

/// Ethernet + the first 12 bytes of an IPv4 header from `from` to `to`:
/// dropped by `to`'s underlay program as `truncated-ipv4`.
fn truncated_ipv4(from: &Node, to: &Node) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(mac_of(from), mac_of(to))
        .ipv4(from.addr().octets(), to.addr().octets(), 64)
        .udp(40000, 9);
    let mut frame = Vec::new();
    builder.write(&mut frame, b"cut short").expect("frame");
    frame.truncate(14 + 12);
    frame
}

#[test]
fn a_scrape_shows_drops_and_raft_moving() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = Lab::builder().nodes(2).build().expect("lab");
    let (n1_lab, n2) = (lab.node(1).expect("n1"), lab.node(2).expect("n2"));
    let listen = format!("{}:{METRICS_PORT}", n1_lab.addr());
    let mut n1 = SwarmNode::new(n1_lab, 1).with_daemon_args(&["--metrics-addr", &listen]);
    n1.start().expect("start n1");
    init(&n1, &[]);

    let before = eventually("n1's data plane and raft leadership in its metrics", || {
        let text = scrape(n2, n1_lab.addr());
        (sample(&text, "shoal_dp_loaded") == Some(1)
            && sample(&text, "shoal_raft_leader") == Some(1))
        .then_some(text)
    });
    assert!(
        sample(&before, "shoal_raft_term").is_some_and(|t| t >= 1),
        "{before}"
    );
    assert_eq!(
        sample(
            &before,
            r#"shoal_nodes{role="manager",status="ready",availability="active"}"#
        ),
        Some(1),
        "{before}"
    );
    let drops = r#"shoal_dp_drops_total{reason="truncated-ipv4"}"#;
    let dropped_before = sample(&before, drops).expect("a counter per drop reason");
    let applied = "shoal_raft_last_applied_index";
    let applied_before = sample(&before, applied).expect("applied index");

    n1.cli(&["network", "create", "metrics-net"])
        .expect("network create");
    // The frames go out at every poll: the data plane's maps may be pinned
    // (dp_loaded) a moment before its underlay program is attached.
    let frame = truncated_ipv4(n2, n1_lab);
    eventually("the drops and the raft write in n1's metrics", || {
        n2.send_raw_frames("eth0", &[frame.clone(), frame.clone(), frame.clone()])
            .expect("send frames");
        let text = scrape(n2, n1_lab.addr());
        let dropped = sample(&text, drops)?;
        let applied_now = sample(&text, applied)?;
        (dropped >= dropped_before + 3 && applied_now > applied_before).then_some(())
    });
}

#[test]
fn without_the_option_nothing_listens() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = Lab::builder().nodes(2).build().expect("lab");
    let (n1_lab, n2) = (lab.node(1).expect("n1"), lab.node(2).expect("n2"));
    let mut n1 = SwarmNode::new(n1_lab, 1);
    n1.start().expect("start n1");
    let url = format!("http://{}:{METRICS_PORT}/metrics", n1_lab.addr());
    let refused = n2.exec(&["curl", "-sS", "--max-time", "5", &url]);
    assert!(refused.is_err(), "metrics answered without --metrics-addr");
}
