//! The control listener's limits on real daemons in a lab: what a node
//! reports is bounded and checked against its certificate, a join is
//! checked by the manager that receives it, and connections nobody
//! finishes do not keep a node out.
//!
//! ```text
//!   n1 (manager) ── n2 (heartbeats / joins) ── n3 (idle connections)
//! ```

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;
use shoal_ctl::{CtlError, CtlRequest, HeartbeatReport, JoinRpc};
use shoal_netns_tests::swarm_kit::{SwarmNode, all_ready, ctl_call, init, managers, swarm_lab};

/// Asserts a refusal with `status` whose message contains `expected`.
fn refused(result: Result<Value, CtlError>, status: u16, expected: &str) {
    match result {
        Err(CtlError::Remote {
            status: got,
            message,
        }) => {
            assert_eq!(got, status, "{message}");
            assert!(message.contains(expected), "{message}");
        }
        other => panic!("expected a refusal saying {expected:?}, got {other:?}"),
    }
}

fn inspect(manager: &SwarmNode, node: &str) -> Value {
    let out = manager.cli(&["node", "inspect", node]).expect("inspect");
    let view: Value = serde_json::from_str(&out).expect("json");
    view[0].clone()
}

fn join_rpc(token: &str, hostname: String) -> CtlRequest {
    CtlRequest::Join(JoinRpc {
        wireguard: None,
        token: token.to_owned(),
        csr_der: Vec::new(),
        hostname,
        advertise_addr: None,
        listen_port: 2377,
        engine_version: "0.1.0".to_owned(),
    })
}

#[test]
fn reported_fields_are_bounded_and_cert_expiry_comes_from_the_certificate() {
    use shoal_security::ca::persist::load_node_credentials;
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, mut nodes) = swarm_lab(2);
    let (token, at, _) = init(&nodes[0], &[]);
    nodes[1]
        .cli(&["swarm", "join", "--token", &token, &at])
        .expect("worker joins");
    all_ready(&nodes[0], 2);
    let before = inspect(&nodes[0], "n2");
    // n2's own heartbeats stop: only the forged ones below reach n1.
    nodes[1].kill();
    let creds = nodes[1].state_dir().join("certificates");
    let (cert, _) = load_node_credentials(&creds).expect("n2's credentials");
    let cert_expiry = cert
        .identity()
        .expect("identity")
        .not_after
        .unix_timestamp();
    let beat = |engine_version: String| {
        let report = HeartbeatReport {
            engine_version,
            cert_not_after: 1,
            resources: None,
        };
        let request = CtlRequest::Heartbeat(report);
        ctl_call(&nodes[1], creds.clone(), true, at.clone(), request)
    };

    let huge = beat("x".repeat(1 << 20));
    refused(huge, 400, "engine_version is 1048576 bytes long");
    let after = inspect(&nodes[0], "n2");
    assert_eq!(after["engine_version"], before["engine_version"]);
    assert_eq!(after["cert_not_after"].as_i64(), Some(cert_expiry));

    beat("9.9.9-claimed".to_owned()).expect("a bounded heartbeat is taken");
    let after = inspect(&nodes[0], "n2");
    assert_eq!(after["engine_version"], "9.9.9-claimed");
    assert_eq!(
        after["cert_not_after"].as_i64(),
        Some(cert_expiry),
        "the expiry is the certificate's, not the one the heartbeat claimed"
    );

    // A join's hostname is bounded too, and refused before anything else.
    let long_name = join_rpc(&token, "h".repeat(300));
    let result = ctl_call(&nodes[1], creds, false, at, long_name);
    refused(result, 400, "hostname is 300 bytes long");
    assert_eq!(nodes[0].nodes().expect("node ls").len(), 2);
}

#[test]
fn a_manager_without_a_leader_refuses_a_bad_join_token_itself() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, mut nodes) = managers(3);
    let token = nodes[0]
        .cli(&["swarm", "join-token", "worker", "-q"])
        .expect("token")
        .trim()
        .to_owned();
    // n3 is left alone: no leader can be elected, nothing can be
    // forwarded, so any answer about the token is n3's own.
    nodes[0].kill();
    nodes[1].kill();
    let creds = nodes[2].state_dir().join("certificates");
    let addr = nodes[2].control_addr();
    let parts: Vec<&str> = token.split('-').collect();
    let foreign = format!("SWMTKN-1-{}-{}", "1".repeat(50), parts[3]);
    let started = Instant::now();
    let result = ctl_call(
        &nodes[2],
        creds.clone(),
        false,
        addr.clone(),
        join_rpc(&foreign, "n4".into()),
    );
    refused(result, 400, "join token is for another cluster CA");
    let wrong_secret = format!("SWMTKN-1-{}-{}", parts[2], "0123456789abcdefghijklmno");
    let result = ctl_call(
        &nodes[2],
        creds.clone(),
        false,
        addr.clone(),
        join_rpc(&wrong_secret, "n4".into()),
    );
    refused(result, 400, "invalid join token secret");
    let result = ctl_call(
        &nodes[2],
        creds,
        false,
        addr,
        join_rpc("SWMTKN-1-tooshort", "n4".into()),
    );
    refused(result, 400, "invalid join token");
    // Answered at once, not after looking for a leader for seconds.
    assert!(started.elapsed() < Duration::from_secs(5), "{started:?}");
}

/// Lowers the open-file limit of process `pid`.
fn limit_open_files(pid: u32, files: u64) {
    let limit = libc::rlimit {
        rlim_cur: files,
        rlim_max: files,
    };
    let pid = i32::try_from(pid).expect("pid");
    // SAFETY: prlimit reads `limit`, a valid rlimit, and writes nothing
    // (null old-limit pointer).
    let done = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) };
    assert_eq!(done, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// The manager's cap on unfinished handshakes from one address
/// (`MAX_PENDING_HANDSHAKES_PER_IP` in the daemon's listener).
const HANDSHAKES_PER_ADDRESS: usize = 32;

/// How many established TCP sockets `manager`'s daemon process holds with
/// `peer` (`ss` in its namespace, sockets it has accepted: the kernel's
/// not-yet-accepted backlog has no owning process).
fn sockets_held_for(manager: &SwarmNode, peer: std::net::Ipv4Addr) -> usize {
    let pid = manager.pid().expect("manager's daemon");
    let out = manager
        .lab_node()
        .exec(&[
            "ss",
            "-Htnp",
            "state",
            "established",
            "dst",
            &peer.to_string(),
        ])
        .expect("ss");
    let owner = format!("pid={pid},");
    out.lines().filter(|l| l.contains(&owner)).count()
}

/// Connections n3 opens to n1's control port and never speaks on.
const IDLE_CONNECTIONS: usize = 2_000;

#[test]
fn idle_connections_to_a_manager_do_not_keep_a_node_from_joining() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, nodes) = swarm_lab(3);
    let (token, at, _) = init(&nodes[0], &[]);
    // n1 runs with 1024 open files, a common service default: were every
    // idle connection kept for its handshake time, they would use them all
    // and n2's connection would wait in the backlog behind them.
    limit_open_files(nodes[0].pid().expect("n1's daemon"), 1024);
    let target: SocketAddr = nodes[0].control_addr().parse().expect("address");
    let idle: Vec<TcpStream> = nodes[2]
        .lab_node()
        .run_in(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            (0..IDLE_CONNECTIONS)
                .take_while(|_| Instant::now() < deadline)
                .filter_map(|_| TcpStream::connect_timeout(&target, Duration::from_secs(1)).ok())
                .collect()
        })
        .expect("run in n3's namespace");
    assert!(
        idle.len() >= IDLE_CONNECTIONS / 2,
        "only {} idle connections opened",
        idle.len()
    );
    // At no moment does the manager hold more of them than its
    // per-address cap: the rest are closed at accept instead of holding a
    // file each until their handshake time runs out.
    let held = sockets_held_for(&nodes[0], nodes[2].lab_node().addr());
    assert!(
        held <= HANDSHAKES_PER_ADDRESS,
        "n1 holds {held} of n3's unfinished connections (cap {HANDSHAKES_PER_ADDRESS})"
    );
    // While they are held open, n2 joins (within the CLI's own patience).
    nodes[1]
        .cli(&["swarm", "join", "--token", &token, &at])
        .expect("n2 joins despite the idle connections");
    all_ready(&nodes[0], 2);
    drop(idle);
}

#[test]
fn a_node_cannot_join_with_a_control_port_a_service_publishes() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, nodes) = swarm_lab(2);
    let (token, at, _) = init(&nodes[0], &[]);
    nodes[0]
        .cli(&[
            "service", "create", "-d", "--name", "grab", "-p", "2399:80", "web:1",
        ])
        .expect("service create");
    // The mesh answers 2399 on every node: a node listening there for its
    // heartbeats and joins would be cut off, so the join is refused.
    let listen = format!("{}:2399", nodes[1].lab_node().addr());
    let err = nodes[1].cli_err(&[
        "swarm",
        "join",
        "--token",
        &token,
        "--listen-addr",
        &listen,
        &at,
    ]);
    assert!(
        err.contains("port 2399 is published by service grab"),
        "{err}"
    );
    assert_eq!(
        nodes[0].nodes().expect("node ls").len(),
        1,
        "nothing joined"
    );
    let state = nodes[1].cli(&["swarm", "inspect"]).expect("inspect");
    assert!(state.contains("\"inactive\""), "{state}");
}
