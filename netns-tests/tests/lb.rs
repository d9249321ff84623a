//! Service VIPs and the routing mesh on real nodes: load spreads over
//! backends on every node, backends see the client's real address, backend
//! changes leave established flows alone, idle flows follow the configured
//! timeouts, and a service without backends refuses at once.
#![expect(clippy::unwrap_used, reason = "tests fail loudly on any setup error")]

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpStream, UdpSocket},
    thread,
    time::Duration,
};

use shoal_dataplane::lb::state::PublishMode;
use shoal_netns_tests::{
    lab::raw::in_netns,
    scenario::{Cluster, Task, connect_from},
};

const VIP: &str = "10.10.0.100";
const TARGET: u16 = 8080;

/// A cluster of `nodes` nodes with backend `b<i>` on node i, a client task
/// on node 1 and service `web` (VIP:80 → 8080) over all backends.
fn web_cluster(nodes: usize) -> (Cluster, Vec<Task>, Task) {
    let mut c = Cluster::new(nodes).unwrap();
    c.network("front", 4097, "10.10.0.0/24");
    let backends: Vec<Task> = (1..=nodes)
        .map(|i| {
            c.task(&format!("b{i}"), i, "front", &format!("10.10.0.{}", 10 + i))
                .unwrap()
        })
        .collect();
    let client = c.task("cl", 1, "front", "10.10.0.50").unwrap();
    let refs: Vec<&Task> = backends.iter().collect();
    c.service("web", VIP, 80, TARGET, &refs);
    c.apply_all().unwrap();
    for b in &backends {
        c.serve(b, TARGET).unwrap();
    }
    (c, backends, client)
}

/// A held connection: which backend answered and the address it saw.
struct Conn {
    backend: String,
    peer: String,
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

fn open(netns: &str, to: SocketAddr) -> std::io::Result<Conn> {
    let stream = connect_from(netns, to).unwrap()?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut hello = String::new();
    reader.read_line(&mut hello)?;
    let mut words = hello.split_whitespace();
    let backend = words.next().unwrap_or_default().to_owned();
    let peer = words.next().unwrap_or_default().to_owned();
    Ok(Conn {
        backend,
        peer,
        reader,
        stream,
    })
}

impl Conn {
    /// Send a line and expect it echoed back by the same backend.
    fn echo(&mut self, line: &str) -> std::io::Result<()> {
        self.stream.write_all(format!("{line}\n").as_bytes())?;
        let mut got = String::new();
        self.reader.read_line(&mut got)?;
        if got.trim() == line {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("sent {line:?}, got {got:?}")))
        }
    }
}

fn addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().unwrap()
}

fn backends_seen(
    netns: &str,
    to: SocketAddr,
    tries: usize,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut names, mut peers) = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..tries {
        let conn = open(netns, to).unwrap();
        names.insert(conn.backend);
        peers.insert(conn.peer);
    }
    (names, peers)
}

fn names(tasks: &[Task]) -> BTreeSet<String> {
    tasks.iter().map(|t| t.name.clone()).collect()
}

#[test]
fn a_vip_spreads_over_backends_on_every_node_and_they_see_the_task() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_c, backends, client) = web_cluster(3);
    let (seen, peers) = backends_seen(&client.netns, addr(VIP, 80), 30);
    assert_eq!(seen, names(&backends), "not every backend answered");
    assert_eq!(
        peers,
        BTreeSet::from([client.ip.to_string()]),
        "backends saw a translated source"
    );

    // UDP too.
    // Datagrams may be lost before the server binds: retry a few times.
    let reply = in_netns(&client.netns, || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut buf = [0u8; 128];
        (0..10).find_map(|_| {
            sock.send_to(b"ping\n", addr(VIP, 80)).unwrap();
            let (n, from) = sock.recv_from(&mut buf).ok()?;
            Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from))
        })
    })
    .unwrap()
    .expect("no UDP reply through the VIP");
    assert_eq!(
        reply.1,
        addr(VIP, 80),
        "the UDP reply did not come from the VIP"
    );
    assert!(reply.0.ends_with(&format!("{}\n", client.ip)), "{reply:?}");
}

#[test]
fn every_nodes_published_port_reaches_every_backend_with_the_clients_address() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (mut c, backends, _client) = web_cluster(3);
    c.publish(8000, "web", 80, PublishMode::Ingress);
    c.apply_all().unwrap();
    let outside = c.lab.add_client("c1").unwrap().clone();
    for node in c.lab.nodes() {
        let (seen, peers) = backends_seen(outside.name(), addr(&node.addr().to_string(), 8000), 30);
        assert_eq!(
            seen,
            names(&backends),
            "node {} did not reach every backend",
            node.name()
        );
        assert_eq!(
            peers,
            BTreeSet::from([outside.addr().to_string()]),
            "the client's address was lost"
        );
    }
}

#[test]
fn backend_changes_leave_established_flows_alone() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (mut c, backends, client) = web_cluster(3);
    let mut held: Vec<Conn> = (0..24)
        .map(|_| open(&client.netns, addr(VIP, 80)).unwrap())
        .collect();
    let before: Vec<String> = held.iter().map(|h| h.backend.clone()).collect();

    // Add a backend: no established flow moves.
    let b4 = c.task("b4", 2, "front", "10.10.0.14").unwrap();
    let all: Vec<&Task> = backends.iter().chain([&b4]).collect();
    c.service("web", VIP, 80, TARGET, &all);
    c.apply_all().unwrap();
    c.serve(&b4, TARGET).unwrap();
    for (i, h) in held.iter_mut().enumerate() {
        h.echo(&format!("after add {i}")).unwrap();
    }
    assert_eq!(
        held.iter().map(|h| h.backend.clone()).collect::<Vec<_>>(),
        before
    );
    let (seen, _) = backends_seen(&client.netns, addr(VIP, 80), 40);
    assert!(
        seen.contains("b4"),
        "new flows never reach the added backend: {seen:?}"
    );

    // Drain b1: its flows keep working, new flows avoid it.
    c.set_draining("web", &backends[0], true);
    c.apply_all().unwrap();
    for (i, h) in held.iter_mut().enumerate() {
        h.echo(&format!("after drain {i}")).unwrap();
    }
    let (seen, _) = backends_seen(&client.netns, addr(VIP, 80), 40);
    assert!(!seen.contains("b1"), "a draining backend got new flows");

    // Remove b2 entirely: the other backends' flows are untouched.
    let kept: Vec<&Task> = [&backends[0], &backends[2], &b4].into_iter().collect();
    c.service("web", VIP, 80, TARGET, &kept);
    c.set_draining("web", &backends[0], true);
    c.apply_all().unwrap();
    for (i, h) in held
        .iter_mut()
        .enumerate()
        .filter(|(_, h)| h.backend != "b2")
    {
        h.echo(&format!("after remove {i}")).unwrap();
    }
    let (seen, _) = backends_seen(&client.netns, addr(VIP, 80), 40);
    assert!(!seen.contains("b2") && !seen.contains("b1"), "{seen:?}");
}

#[test]
fn idle_flows_expire_only_after_the_configured_timeout() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    const TIMEOUT_S: u64 = 4;
    let (mut c, _backends, client) = web_cluster(2);
    c.conntrack.tcp_established_s = TIMEOUT_S as u32;
    c.apply_all().unwrap();
    // Two flows on the same backend.
    let mut flows: Vec<Conn> = Vec::new();
    while flows.len() < 2 {
        let conn = open(&client.netns, addr(VIP, 80)).unwrap();
        if flows.first().is_none_or(|f| f.backend == conn.backend) {
            flows.push(conn);
        }
    }
    let target = c
        .tasks
        .iter()
        .find(|t| t.name == flows[0].backend)
        .unwrap()
        .clone();
    let (mut busy, mut idle) = (flows.remove(0), flows.remove(0));
    // The busy flow talks every half second from now on, so no pause
    // (however slow the applies below) reaches the timeout.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ticking = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                busy.echo(&format!("tick {i}"))?;
                i += 1;
                thread::sleep(Duration::from_millis(500));
            }
            busy.echo("still here")
        })
    };
    // Drain that backend: only conntrack keeps the flows on it.
    c.set_draining("web", &target, true);
    c.apply_all().unwrap();
    thread::sleep(Duration::from_secs(TIMEOUT_S + 3));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    ticking
        .join()
        .unwrap()
        .expect("a flow active within the timeout was cut");
    assert!(
        idle.echo("late").is_err(),
        "a flow idle past the timeout kept its drained backend"
    );
}

#[test]
fn a_service_without_backends_refuses_at_once() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (mut c, _backends, client) = web_cluster(2);
    c.service("web", VIP, 80, TARGET, &[]);
    c.publish(8000, "web", 80, PublishMode::Ingress);
    c.apply_all().unwrap();
    let err = connect_from(&client.netns, addr(VIP, 80))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    // UDP: an ICMP port unreachable, which a connected socket reports.
    let udp = in_netns(&client.netns, || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.connect(addr(VIP, 80)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        sock.send(b"anyone?").unwrap();
        sock.recv(&mut [0u8; 16]).map_err(|e| e.kind())
    })
    .unwrap();
    assert_eq!(udp, Err(std::io::ErrorKind::ConnectionRefused));
    let outside = c.lab.add_client("c1").unwrap().clone();
    let node = c.lab.node(2).unwrap().addr().to_string();
    let err = connect_from(outside.name(), addr(&node, 8000))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    let stats = c.lab.node(1).unwrap().shoal(&["dp", "stats"]).unwrap();
    assert!(
        stats
            .lines()
            .any(|l| l.starts_with("reset ") && !l.contains(" 0 ")),
        "{stats}"
    );
}

#[test]
fn host_mode_publishing_answers_only_where_a_task_runs() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut c = Cluster::new(2).unwrap();
    c.network("front", 4097, "10.10.0.0/24");
    let b = c.task("b1", 1, "front", "10.10.0.11").unwrap();
    c.service("web", VIP, 80, TARGET, &[&b]);
    c.publish(9000, "web", 80, PublishMode::Host);
    c.apply_all().unwrap();
    c.serve(&b, TARGET).unwrap();
    let outside = c.lab.add_client("c1").unwrap().clone();
    let (n1, n2) = (c.lab.node(1).unwrap().addr(), c.lab.node(2).unwrap().addr());
    let conn = open(outside.name(), addr(&n1.to_string(), 9000)).unwrap();
    assert_eq!(
        (conn.backend.as_str(), conn.peer.clone()),
        ("b1", outside.addr().to_string())
    );
    assert!(
        connect_from(outside.name(), addr(&n2.to_string(), 9000))
            .unwrap()
            .is_err(),
        "a node without the task answered"
    );
}

#[test]
fn icmp_errors_about_a_translated_flow_reach_the_client_translated() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (mut c, backends, client) = web_cluster(2);
    // A service whose backend on another node has nothing listening.
    let quiet: Vec<&Task> = vec![&backends[1]];
    c.service("quiet", "10.10.0.101", 53, 5353, &quiet);
    c.apply_all().unwrap();
    // A connected UDP socket only hears an ICMP error that quotes its own
    // 4-tuple: client → VIP:53, not client → backend:5353.
    let got = in_netns(&client.netns, || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.connect(addr("10.10.0.101", 53)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut buf = [0u8; 16];
        (0..5)
            .map(|_| {
                sock.send(b"anyone?").unwrap();
                sock.recv(&mut buf).map_err(|e| e.kind())
            })
            .find(|r| *r != Err(std::io::ErrorKind::WouldBlock))
    })
    .unwrap();
    assert_eq!(
        got,
        Some(Err(std::io::ErrorKind::ConnectionRefused)),
        "the port-unreachable was not translated"
    );
}

#[test]
fn the_same_vip_on_two_networks_sharing_a_subnet_answers_each_network_apart() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    // red and blue mirror each other: same subnet, same VIP, same client and
    // backend addresses; the backends live on node 2, so requests and
    // replies cross the overlay (VXLAN with each network's VNI).
    let mut c = Cluster::new(2).unwrap();
    c.network("red", 4101, "10.10.0.0/24");
    c.network("blue", 4102, "10.10.0.0/24");
    let red_backend = c.task("rbe", 2, "red", "10.10.0.11").unwrap();
    let blue_backend = c.task("bbe", 2, "blue", "10.10.0.11").unwrap();
    let red_client = c.task("rcl", 1, "red", "10.10.0.50").unwrap();
    let blue_client = c.task("bcl", 1, "blue", "10.10.0.50").unwrap();
    c.service("web@red", VIP, 80, TARGET, &[&red_backend]);
    c.service("web@blue", VIP, 80, TARGET, &[&blue_backend]);
    c.apply_all().unwrap();
    for b in [&red_backend, &blue_backend] {
        c.serve(b, TARGET).unwrap();
    }
    let mut held = Vec::new();
    for (client, backend) in [(&red_client, &red_backend), (&blue_client, &blue_backend)] {
        let (seen, peers) = backends_seen(&client.netns, addr(VIP, 80), 5);
        assert_eq!(
            seen,
            BTreeSet::from([backend.name.clone()]),
            "{} reached another network's backend",
            client.name
        );
        assert_eq!(peers, BTreeSet::from(["10.10.0.50".to_owned()]));
        held.push((
            client.name.clone(),
            open(&client.netns, addr(VIP, 80)).unwrap(),
        ));
    }
    // Both held connections have the same addresses except the network:
    // each keeps its own backend and its replies reach its own client.
    for round in 0..3 {
        for (client, conn) in &mut held {
            conn.echo(&format!("{client} {round}"))
                .unwrap_or_else(|e| panic!("{client}'s connection, round {round}: {e}"));
        }
    }
}
