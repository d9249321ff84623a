//! VXLAN is accepted only from the swarm's nodes: a frame forged by a host
//! on the underlay that is no node — for a real task's VNI and address — is
//! dropped by the receiving node and counted as `unknown-peer`; the same
//! frame sent from a node of the swarm reaches the task.
//!
//! ```text
//!  forger (client netns) ──VXLAN 4097→10.10.0.2──► n1 ✗ unknown-peer
//!  n2 (a peer)           ──same frame────────────► n1 ──► task a (received)
//! ```
#![expect(clippy::unwrap_used, reason = "tests fail loudly on any setup error")]

use std::{
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    thread,
    time::{Duration, Instant},
};

use etherparse::PacketBuilder;
use shoal_netns_tests::{
    lab::{Node, raw::in_netns},
    overlay_kit::dp_counter,
    scenario::{Cluster, Task},
};

const VNI: u32 = 4097;
const VXLAN_PORT: u16 = 4789;
const TASK_PORT: u16 = 7777;

/// The UDP payload of a VXLAN frame (RFC 7348 header, inner Ethernet,
/// IPv4, UDP) carrying `payload` from overlay address `src` to task `to`.
fn vxlan_payload(src: Ipv4Addr, to: &Task, payload: &[u8]) -> Vec<u8> {
    let vni = VNI.to_be_bytes();
    let mut out = vec![0x08, 0, 0, 0, vni[1], vni[2], vni[3], 0];
    let builder = PacketBuilder::ethernet2([0x02, 0x42, 10, 10, 0, 3], [0x02, 0x42, 10, 10, 0, 2])
        .ipv4(src.octets(), to.ip.octets(), 64)
        .udp(40_000, TASK_PORT);
    builder.write(&mut out, payload).unwrap();
    out
}

/// Send `frame` as the payload of one UDP datagram from `from`'s namespace
/// to `node`'s VXLAN port: the kernel writes the outer headers, with
/// `from`'s own underlay address as the source.
fn send_vxlan(from: &Node, node: Ipv4Addr, frame: Vec<u8>) {
    from.run_in(move || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.send_to(&frame, SocketAddrV4::new(node, VXLAN_PORT))
            .unwrap();
    })
    .unwrap();
}

/// Listen on the task's UDP port for `wait`; returns what arrived.
fn listen(task: &Task, wait: Duration) -> thread::JoinHandle<Vec<Vec<u8>>> {
    let (netns, addr) = (task.netns.clone(), SocketAddrV4::new(task.ip, TASK_PORT));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = thread::spawn(move || {
        in_netns(&netns, move || {
            let sock = UdpSocket::bind(addr).unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            ready_tx.send(()).unwrap();
            let (deadline, mut got) = (Instant::now() + wait, Vec::new());
            let mut buf = [0u8; 2048];
            while Instant::now() < deadline {
                if let Ok(n) = sock.recv(&mut buf) {
                    got.push(buf[..n].to_vec());
                }
            }
            got
        })
        .unwrap()
    });
    ready_rx.recv().unwrap();
    handle
}

/// Wait (bounded) until counter `name` on `node` exceeds `above`.
fn wait_above(node: &Node, name: &str, above: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = dp_counter(node, name);
        if got > above || Instant::now() > deadline {
            return got;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn forged_vxlan_from_a_host_that_is_no_node_is_dropped_and_counted() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut c = Cluster::new(2).unwrap();
    c.network("front", VNI, "10.10.0.0/24");
    let a = c.task("a", 1, "front", "10.10.0.2").unwrap();
    let b = c.task("b", 2, "front", "10.10.0.3").unwrap();
    c.apply_all().unwrap();
    let forger = c.lab.add_client("forger").unwrap().clone();
    let (n1, n2) = (c.lab.node(1).unwrap(), c.lab.node(2).unwrap());

    let before = dp_counter(n1, "unknown-peer");
    let listener = listen(&a, Duration::from_secs(2));
    let forged = vxlan_payload(b.ip, &a, b"forged");
    send_vxlan(&forger, n1.addr(), forged);
    let after = wait_above(n1, "unknown-peer", before);
    let received = listener.join().unwrap();
    assert_eq!(after, before + 1, "the forged frame was not counted");
    assert!(
        received.is_empty(),
        "the task got a forged frame: {received:?}"
    );

    // The same frame from a node of the swarm is unwrapped and delivered:
    // the forged one was refused for its source, not for its shape.
    let listener = listen(&a, Duration::from_secs(2));
    send_vxlan(n2, n1.addr(), vxlan_payload(b.ip, &a, b"from a peer"));
    let received = listener.join().unwrap();
    assert_eq!(received, [b"from a peer".to_vec()]);
    assert_eq!(dp_counter(n1, "unknown-peer"), before + 1);
}
