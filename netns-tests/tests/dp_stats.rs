//! The data plane on real nodes: `shoal dp attach` leaves the underlay
//! program attached after it exits, real traffic between lab nodes shows up
//! in the receiving node's `shoal dp stats`, and malformed frames sent over
//! the wire are dropped and counted by reason.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a panic with the value is the failure report"
)]

use std::{
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    time::{Duration, Instant},
};

use etherparse::PacketBuilder;
use serde_json::Value;
use shoal_netns_tests::lab::{Lab, Node};

const DATAGRAMS: u64 = 20;

/// `shoal dp stats --format json` on `node`, as counter name → packets.
fn stats(node: &Node) -> Vec<(String, u64)> {
    let json: Value =
        serde_json::from_str(&node.shoal(&["dp", "stats", "--format", "json"]).unwrap()).unwrap();
    json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let prefix = if r["drop"].as_bool().unwrap() {
                "drop/"
            } else {
                ""
            };
            (
                format!("{prefix}{}", r["counter"].as_str().unwrap()),
                r["packets"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn counter(node: &Node, name: &str) -> u64 {
    stats(node)
        .into_iter()
        .find(|(n, _)| n == name)
        .map_or(0, |(_, v)| v)
}

/// Wait (bounded) until `name` on `node` reaches `want`; returns the last value.
fn wait_for(node: &Node, name: &str, want: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = counter(node, name);
        if got >= want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn send_udp(from: &Node, to: Ipv4Addr, count: u64) {
    from.run_in(move || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        for i in 0..count {
            sock.send_to(format!("datagram {i}").as_bytes(), SocketAddrV4::new(to, 9))
                .unwrap();
        }
    })
    .unwrap();
}

fn mac_of(node: &Node) -> [u8; 6] {
    let text = node.exec(&["cat", "/sys/class/net/eth0/address"]).unwrap();
    let bytes: Vec<u8> = text
        .trim()
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

/// A well-formed UDP frame from `from` to `to`, before any mutation.
fn udp_frame(from: &Node, to: &Node) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(mac_of(from), mac_of(to))
        .ipv4(from.addr().octets(), to.addr().octets(), 64)
        .udp(40000, 9);
    let payload = b"malformed on purpose";
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).unwrap();
    frame
}

#[test]
fn traffic_between_nodes_shows_up_in_the_receivers_stats() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = Lab::builder().nodes(3).build().unwrap();
    let (n1, n2, n3) = (
        lab.node(1).unwrap(),
        lab.node(2).unwrap(),
        lab.node(3).unwrap(),
    );
    let attached = n2
        .shoal(&["dp", "attach", "--iface", "eth0", "--hook", "xdp"])
        .unwrap();
    assert!(attached.contains("attached"), "{attached}");
    n3.shoal(&["dp", "attach", "--iface", "eth0", "--hook", "tc"])
        .unwrap();
    // The attaching processes have exited: the pinned links keep the programs.
    let status = n2.shoal(&["dp", "status"]).unwrap();
    assert!(status.contains("underlay_xdp_eth0"), "{status}");

    send_udp(n1, n2.addr(), DATAGRAMS);
    send_udp(n1, n3.addr(), DATAGRAMS);
    for node in [n2, n3] {
        assert!(
            wait_for(node, "pass", DATAGRAMS) >= DATAGRAMS,
            "{:?}",
            stats(node)
        );
        assert!(counter(node, "rx") >= DATAGRAMS);
        let drops: u64 = stats(node)
            .iter()
            .filter(|(n, _)| n.starts_with("drop/"))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(drops, 0, "{:?}", stats(node));
    }
    // Nothing is attached on n1: its stats are refused with the reason.
    let err = n1.shoal(&["dp", "stats"]).unwrap_err().to_string();
    assert!(err.contains("no data plane loaded"), "{err}");
}

#[test]
fn malformed_frames_on_the_wire_are_dropped_and_counted_by_reason() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = Lab::builder().nodes(2).build().unwrap();
    let (n1, n2) = (lab.node(1).unwrap(), lab.node(2).unwrap());
    n2.shoal(&["dp", "attach", "--iface", "eth0"]).unwrap();

    let good = udp_frame(n1, n2);
    // Ethernet + 12 bytes of IPv4 header: the header is cut short.
    let truncated_ipv4 = good[..14 + 12].to_vec();
    // A UDP length field of 4: shorter than the UDP header itself.
    let mut bad_udp_len = good.clone();
    bad_udp_len[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&4u16.to_be_bytes());
    let frames = vec![
        truncated_ipv4.clone(),
        truncated_ipv4.clone(),
        truncated_ipv4,
        bad_udp_len.clone(),
        bad_udp_len,
    ];
    n1.send_raw_frames("eth0", &frames).unwrap();

    assert_eq!(wait_for(n2, "drop/truncated-ipv4", 3), 3, "{:?}", stats(n2));
    assert_eq!(wait_for(n2, "drop/malformed-l4", 2), 2, "{:?}", stats(n2));
    let table = n2.shoal(&["dp", "stats"]).unwrap();
    assert!(table.starts_with("COUNTER"), "{table}");
    assert!(table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["drop/truncated-ipv4", "3", "78"]), "{table}");
}

/// The lines of `log` that are JSON objects (the monitor's events; its
/// "listening" note goes to stderr, into the same file).
fn json_events(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Poll `log` until `done` holds for its text, for at most `limit`.
fn poll_log(log: &std::path::Path, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if done(&text) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn dp_monitor_shows_a_drop_with_its_reason_within_a_second() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = Lab::builder().nodes(2).build().unwrap();
    let (n1, n2) = (lab.node(1).unwrap(), lab.node(2).unwrap());
    n2.shoal(&["dp", "attach", "--iface", "eth0"]).unwrap();
    let monitor = n2
        .spawn_shoal(&["dp", "monitor", "--format", "json"])
        .unwrap();
    // Its events are switched on once it says it listens; a start-up on a
    // loaded machine may take a while, so that wait is generous.
    let started = poll_log(&monitor.log, Duration::from_secs(30), |t| {
        t.contains("listening for events")
    });
    assert!(started.contains("listening for events"), "{started}");

    // Well-formed traffic first: passed packets are no drop events.
    send_udp(n1, n2.addr(), 3);
    // (`pass` also counts the ARP that came first.)
    assert!(wait_for(n2, "pass", 3) >= 3, "{:?}", stats(n2));
    let mut bad_udp_len = udp_frame(n1, n2);
    bad_udp_len[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&4u16.to_be_bytes());
    n1.send_raw_frames("eth0", &[bad_udp_len.clone()]).unwrap();

    // The bar: shown within a second of the drop. A bounded poll,
    // not a measured time: it passes as soon as the line is there.
    let text = poll_log(&monitor.log, Duration::from_secs(1), |t| {
        t.contains("malformed-l4")
    });
    let events = json_events(&monitor.log);
    assert_eq!(events.len(), 1, "one drop, one event:\n{text}");
    let e = &events[0];
    assert_eq!(e["kind"], "drop", "{e}");
    assert_eq!(e["reason"], "malformed-l4", "{e}");
    assert_eq!(e["program"], "underlay-xdp", "{e}");
    assert_eq!(e["ifname"], "eth0", "{e}");
    assert_eq!(e["len"], bad_udp_len.len(), "{e}");
    assert_eq!(e["flow"]["proto"], "udp", "{e}");
    assert_eq!(e["flow"]["src"], n1.addr().to_string(), "{e}");
    assert_eq!(e["flow"]["sport"], 40000, "{e}");
    assert_eq!(e["flow"]["dst"], n2.addr().to_string(), "{e}");
    assert_eq!(e["flow"]["dport"], 9, "{e}");
    // The counter is the same as without a listener.
    assert_eq!(counter(n2, "drop/malformed-l4"), 1, "{:?}", stats(n2));

    // SIGTERM (like Ctrl-C) switches the events off before it exits.
    // SAFETY: signalling the child this test spawned.
    assert_eq!(unsafe { libc::kill(monitor.pid as i32, libc::SIGTERM) }, 0);
    let text = poll_log(&monitor.log, Duration::from_secs(10), |t| {
        t.contains("events switched off")
    });
    assert!(text.contains("events switched off"), "{text}");
}
