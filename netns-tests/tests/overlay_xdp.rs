//! The XDP fast path on real nodes: with `xdp_fast_path` on, VXLAN for a
//! local task is unwrapped by `shoal_underlay_xdp` (its `xdp-decap`
//! counter moves on both ends of a TCP stream), the stream arrives intact,
//! what the fast path leaves to TC (ICMP) still works, and switching it off
//! puts everything back on the TC path. The lab's underlay veths carry
//! complete checksums, as a wire does (`Cluster::wire_checksums`).
#![expect(clippy::unwrap_used, reason = "tests fail loudly on any setup error")]

use shoal_netns_tests::{
    lab::cmd::{self, netns_command},
    overlay_kit::{dp_counter, tcp_transfer},
    scenario::{Cluster, Task},
};

fn run_in(netns: &str, args: &[&str]) -> Result<String, String> {
    cmd::output(netns_command(netns, args).unwrap()).map_err(|e| e.to_string())
}

fn ping(from: &Task, to: std::net::Ipv4Addr) -> Result<(), String> {
    run_in(&from.netns, &["ping", "-c2", "-W1", &to.to_string()]).map(drop)
}

/// Stream `bytes` from `a` to `b` and check it arrived unchanged.
fn transfer(a: &Task, b: &Task, bytes: u64) {
    let (sent, received) = tcp_transfer(&a.netns, &b.netns, b.ip, bytes).unwrap();
    assert_eq!(sent, received, "the stream was corrupted in transit");
}

#[test]
fn the_xdp_fast_path_carries_tcp_across_nodes_and_can_be_switched_off() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut c = Cluster::new(2).unwrap();
    c.network("front", 4097, "10.10.0.0/24");
    c.xdp_fast_path = true;
    let a = c.task("a", 1, "front", "10.10.0.2").unwrap();
    let b = c.task("b", 2, "front", "10.10.0.3").unwrap();
    c.apply_all().unwrap();
    let features = run_in(&b.netns, &["ethtool", "-k", "eth0"]).unwrap();
    assert!(
        features.contains("generic-receive-offload: on"),
        "dp apply turns GRO on in the task's interface (NAPI for XDP frames):\n{features}"
    );

    let (n1, n2) = (c.lab.node(1).unwrap(), c.lab.node(2).unwrap());
    transfer(&a, &b, 20 << 20);
    let (data, acks) = (dp_counter(n2, "xdp-decap"), dp_counter(n1, "xdp-decap"));
    // 20 MB in segments of at most 1398 bytes: over 15,000 frames.
    assert!(data >= 15_000, "node 2 unwrapped {data} frames at XDP");
    assert!(acks > 0, "the ACKs back to node 1 took the fast path too");
    assert!(
        dp_counter(n2, "decap") >= data,
        "xdp-decap is part of decap"
    );

    // ICMP is left to TC: it still gets through, and XDP did not take it.
    let before = dp_counter(n2, "xdp-decap");
    ping(&a, b.ip).unwrap();
    assert_eq!(dp_counter(n2, "xdp-decap"), before, "ICMP went the TC way");

    c.xdp_fast_path = false;
    c.apply_all().unwrap();
    let (xdp_before, decap_before) = (dp_counter(n2, "xdp-decap"), dp_counter(n2, "decap"));
    transfer(&a, &b, 4 << 20);
    assert_eq!(
        dp_counter(n2, "xdp-decap"),
        xdp_before,
        "switched off, nothing is unwrapped at XDP"
    );
    assert!(
        dp_counter(n2, "decap") > decap_before + 2_000,
        "TC unwrapped the stream"
    );
}
