//! The control plane on real daemons in a lab: one `shoal daemon` per
//! node, real certificates, mTLS between nodes, the CLI over each node's
//! socket.

use std::time::Duration;

use serde_json::Value;
use shoal_netns_tests::swarm_kit::{
    SwarmNode, all_ready, ctl_call, eventually, field, files_under, ids, init, leader_name,
    swarm_lab,
};

#[test]
fn managers_and_workers_join_agree_and_survive_the_leader() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, mut nodes) = swarm_lab(5);
    let (worker_token, join_at, _) = init(&nodes[0], &[]);
    assert_eq!(join_at, "198.18.0.11:2377");
    let manager_token = nodes[0]
        .cli(&["swarm", "join-token", "manager", "-q"])
        .expect("manager token");
    let manager_token = manager_token.trim();
    for node in &nodes[1..3] {
        let out = node
            .cli(&["swarm", "join", "--token", manager_token, &join_at])
            .expect("join as manager");
        assert_eq!(out.trim(), "This node joined a swarm as a manager.");
    }
    for node in &nodes[3..5] {
        let out = node
            .cli(&["swarm", "join", "--token", &worker_token, &join_at])
            .expect("join as worker");
        assert_eq!(out.trim(), "This node joined a swarm as a worker.");
    }

    // Every manager lists the same five nodes, all ready, one leader.
    let listed: Vec<Vec<Value>> = nodes[..3].iter().map(|m| all_ready(m, 5)).collect();
    for (manager, list) in nodes[..3].iter().zip(&listed) {
        assert_eq!(ids(list), ids(&listed[0]), "{} disagrees", manager.name);
        let managers = list
            .iter()
            .filter(|n| field(n, "role") == "manager")
            .count();
        assert_eq!(managers, 3);
        let me: Vec<&Value> = list.iter().filter(|n| n["is_self"] == true).collect();
        assert_eq!(me.len(), 1);
        assert_eq!(field(me[0], "hostname"), manager.name);
    }
    eventually("one leader, named alike by every manager", || {
        let leaders: Vec<Option<String>> = nodes[..3]
            .iter()
            .map(|m| m.nodes().ok().and_then(|l| leader_name(&l)))
            .collect();
        (leaders[0].is_some() && leaders.iter().all(|l| *l == leaders[0])).then_some(())
    });
    let table = nodes[1].cli(&["node", "ls"]).expect("node ls");
    let header = table.lines().next().unwrap_or_default();
    for column in [
        "ID",
        "HOSTNAME",
        "STATUS",
        "AVAILABILITY",
        "MANAGER STATUS",
        "ENGINE VERSION",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        table.lines().any(|l| l.contains(" * ") && l.contains("n2")),
        "{table}"
    );
    let err = nodes[3].cli_err(&["node", "ls"]);
    assert!(err.contains("not a swarm manager"), "{err}");

    // Kill the leader's daemon: another manager takes over, writes go on.
    let leader = leader_name(&listed[0]).expect("a leader");
    let index = nodes
        .iter()
        .position(|n| n.name == leader)
        .expect("leader node");
    nodes[index].kill();
    let survivors: Vec<usize> = (0..3).filter(|i| *i != index).collect();
    let watcher = &nodes[survivors[0]];
    eventually("a new leader and the old one down", || {
        let list = watcher.nodes().ok()?;
        let new_leader = leader_name(&list)?;
        let old = list.iter().find(|n| field(n, "hostname") == leader)?;
        (new_leader != leader && field(old, "status") == "down").then_some(())
    });
    // Through both survivors (one of them a follower: forwarded to the leader).
    for (i, s) in survivors.iter().enumerate() {
        let label = format!("after-failover={i}");
        nodes[*s]
            .cli(&["node", "update", "--label-add", &label, "n4"])
            .expect("update after failover");
    }
    let other = &nodes[survivors[1]];
    eventually("the labels on every surviving manager", || {
        let out = other.cli(&["node", "inspect", "n4"]).ok()?;
        let view: Value = serde_json::from_str(&out).ok()?;
        let labels = &view[0]["labels"];
        (labels["after-failover"] == "1").then_some(())
    });
}

/// Replaces the secret (last field) of a token.
fn with_secret(token: &str, secret: &str) -> String {
    let (head, _) = token.rsplit_once('-').expect("token fields");
    format!("{head}-{secret}")
}

#[test]
fn bad_join_input_is_refused_clearly_and_changes_nothing() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, nodes) = swarm_lab(3);
    let (token, at, _) = init(&nodes[0], &[]);
    nodes[1]
        .cli(&["swarm", "join", "--token", &token, &at])
        .expect("worker joins");
    all_ready(&nodes[0], 2);
    let joiner = &nodes[2];
    let refused = |token: &str, at: &str| joiner.cli_err(&["swarm", "join", "--token", token, at]);

    let err = refused("SWMTKN-1-tooshort", &at);
    assert!(
        err.contains("invalid join token") && err.contains("malformed"),
        "{err}"
    );
    let err = refused("not-a-token", &at);
    assert!(err.contains("SWMTKN"), "{err}");
    let err = refused(&with_secret(&token, "0123456789abcdefghijklmno"), &at);
    assert!(err.contains("invalid join token secret"), "{err}");
    // A token for another CA: the joiner refuses the manager before
    // sending anything secret.
    let other_digest = "1".repeat(50);
    let parts: Vec<&str> = token.split('-').collect();
    let foreign = format!("SWMTKN-1-{other_digest}-{}", parts[3]);
    let err = refused(&foreign, &at);
    assert!(
        err.contains("does not present the CA the join token pins"),
        "{err}"
    );
    // A worker answers (it serves task logs to managers) but is no manager.
    let err = refused(&token, &nodes[1].control_addr());
    assert!(err.contains("is it a manager?"), "{err}");
    // A rotated token no longer works; the new one does.
    let rotated = nodes[0]
        .cli(&["swarm", "join-token", "worker", "--rotate"])
        .expect("rotate");
    assert!(
        rotated.starts_with("Successfully rotated worker join token."),
        "{rotated}"
    );
    let err = refused(&token, &at);
    assert!(err.contains("invalid join token secret"), "{err}");

    // Nothing changed: the joiner is in no swarm, the swarm has two nodes.
    let state = joiner.cli(&["swarm", "inspect"]).expect("inspect");
    assert!(state.contains("\"inactive\""), "{state}");
    assert_eq!(nodes[0].nodes().expect("node ls").len(), 2);
    // (daemon.lock is the running daemon's own, not swarm state.)
    let kept: Vec<_> = files_under(&joiner.state_dir())
        .into_iter()
        .filter(|f| !f.ends_with("daemon.lock"))
        .collect();
    assert!(kept.is_empty(), "the joiner kept files: {kept:?}");

    let fresh = nodes[0]
        .cli(&["swarm", "join-token", "worker", "-q"])
        .expect("token");
    joiner
        .cli(&["swarm", "join", "--token", fresh.trim(), &at])
        .expect("join with the rotated token");
    all_ready(&nodes[0], 3);

    // Bad updates change nothing either.
    let err = nodes[0].cli_err(&["node", "update", "--availability", "asleep", "n2"]);
    assert!(err.contains("invalid availability"), "{err}");
    let err = nodes[0].cli_err(&["node", "update", "--label-add", "=x", "n2"]);
    assert!(err.contains("invalid label"), "{err}");
    let err = nodes[0].cli_err(&["node", "rm", "n2"]);
    assert!(err.contains("not down"), "{err}");
    let err = nodes[0].cli_err(&["node", "demote", "n1"]);
    assert!(err.contains("last manager"), "{err}");
    let err = nodes[0].cli_err(&["swarm", "leave"]);
    assert!(err.contains("--force"), "{err}");
    let err = nodes[0].cli_err(&["node", "inspect", "nosuchnode"]);
    assert!(err.contains("not found"), "{err}");
    let view: Value =
        serde_json::from_str(&nodes[0].cli(&["node", "inspect", "n2"]).expect("inspect"))
            .expect("json");
    assert_eq!(view[0]["availability"], "active");
    assert_eq!(view[0]["labels"], serde_json::json!({}));
}

const MARKERS: [&str; 2] = ["marker-label-value-5e1b9c", "marker-label-value-77d2aa"];

#[test]
fn autolocked_manager_waits_for_its_key_and_nothing_is_stored_in_clear() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (lab, mut nodes) = swarm_lab(2);
    let (_, at, out) = init(&nodes[0], &["--autolock"]);
    let key = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("SWMKEY-1-"))
        .expect("unlock key printed")
        .to_owned();
    let shown = nodes[0]
        .cli(&["swarm", "unlock-key", "-q"])
        .expect("unlock-key");
    assert_eq!(shown.trim(), key);
    let manager_token = nodes[0]
        .cli(&["swarm", "join-token", "manager", "-q"])
        .expect("token");
    nodes[1]
        .cli(&["swarm", "join", "--token", manager_token.trim(), &at])
        .expect("second manager joins");
    all_ready(&nodes[0], 2);
    for (marker, node) in MARKERS.iter().zip(["n1", "n2"]) {
        let label = format!("secret={marker}");
        nodes[0]
            .cli(&["node", "update", "--label-add", &label, node])
            .expect("label");
    }

    // Both managers' TLS and WireGuard keys are sealed: no parseable
    // private key on disk.
    for node in &nodes {
        eventually("the WireGuard key sealed", || {
            (!keys_in_clear(node).1).then_some(())
        });
        let path = node.state_dir().join("certificates/swarm-node.key");
        let stored = std::fs::read(&path).expect("key file");
        let text = String::from_utf8_lossy(&stored);
        assert!(
            !text.contains("PRIVATE KEY"),
            "{} is in clear",
            path.display()
        );
        assert!(shoal_security::ca::NodeKey::from_pem(&text).is_err());
    }

    // A restarted manager serves nothing until unlocked.
    nodes[0].kill();
    nodes[0].start().expect("restart");
    let state = nodes[0].cli(&["swarm", "inspect"]).expect("inspect");
    assert!(state.contains("\"locked\""), "{state}");
    let err = nodes[0].cli_err(&["node", "ls"]);
    assert!(err.contains("swarm unlock"), "{err}");
    let wrong = shoal_security::seal::UnlockKey::generate()
        .expose()
        .to_string();
    let err = nodes[0].cli_err(&["swarm", "unlock", "--key", &wrong]);
    assert!(err.contains("invalid unlock key"), "{err}");
    let err = nodes[0].cli_err(&["swarm", "unlock", "--key", "SWMKEY-1-nope"]);
    assert!(err.contains("malformed unlock key"), "{err}");
    assert!(nodes[0].cli_err(&["node", "ls"]).contains("swarm unlock"));
    nodes[0]
        .cli(&["swarm", "unlock", "--key", &key])
        .expect("unlock with the right key");
    let listed = all_ready(&nodes[0], 2);
    let labels: Vec<&str> = listed
        .iter()
        .map(|n| n["labels"]["secret"].as_str().unwrap_or_default())
        .collect();
    for marker in MARKERS {
        assert!(labels.contains(&marker), "{labels:?}");
    }
    // Unlocked, it works with its (opened) key: a write goes through.
    nodes[0]
        .cli(&["node", "update", "--label-add", "after-unlock=1", "n2"])
        .expect("a write after unlock");

    // At rest: no file under any node's state directory holds a marker.
    for node in &mut nodes {
        node.kill();
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut scanned = 0;
    for i in 1..=2 {
        let dir = lab.node(i).expect("node").state_dir();
        for file in files_under(dir) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            scanned += bytes.len();
            for marker in MARKERS {
                assert!(
                    !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                    "{} holds {marker} in clear",
                    file.display()
                );
            }
        }
    }
    assert!(scanned > 0, "the scan must see the state");
}

#[test]
fn node_rpcs_are_authorised_by_certificate_role_and_removal() {
    use shoal_ctl::{ApiOp, CtlError, CtlRequest, LeaderCall};
    use shoal_model::cluster::NodeUpdate;
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, mut nodes) = swarm_lab(3);
    let (token, at, _) = init(&nodes[0], &[]);
    for node in &nodes[1..] {
        node.cli(&["swarm", "join", "--token", &token, &at])
            .expect("worker joins");
    }
    all_ready(&nodes[0], 3);
    let manager_addr = nodes[0].control_addr();
    let worker_creds = nodes[1].state_dir().join("certificates");
    let manager_call = || {
        CtlRequest::Leader(LeaderCall::Api(ApiOp::UpdateNode {
            target: "n3".to_owned(),
            update: NodeUpdate {
                availability: Some("drain".to_owned()),
                labels: vec![],
            },
        }))
    };
    let denied = |result: Result<Value, CtlError>, expected: &str| match result {
        Err(CtlError::Remote { status, message }) => {
            assert_eq!(status, 403, "{message}");
            assert!(message.contains(expected), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    };

    // A worker certificate may heartbeat and ping, not call manager APIs.
    let ok = ctl_call(
        &nodes[2],
        worker_creds.clone(),
        true,
        manager_addr.clone(),
        CtlRequest::Ping,
    );
    assert!(ok.is_ok(), "{ok:?}");
    let result = ctl_call(
        &nodes[2],
        worker_creds.clone(),
        true,
        manager_addr.clone(),
        manager_call(),
    );
    denied(result, "permission denied");
    // Without a client certificate only a join is possible.
    let result = ctl_call(
        &nodes[2],
        worker_creds.clone(),
        false,
        manager_addr.clone(),
        manager_call(),
    );
    denied(result, "no client certificate");
    let result = ctl_call(
        &nodes[2],
        worker_creds.clone(),
        false,
        manager_addr.clone(),
        CtlRequest::Ping,
    );
    denied(result, "no client certificate");
    let view = nodes[0].cli(&["node", "inspect", "n3"]).expect("inspect");
    assert!(view.contains("\"availability\": \"active\""), "{view}");

    // A removed node's certificate is refused although it is still valid.
    nodes[1].kill();
    eventually("n2 down", || {
        let list = nodes[0].nodes().ok()?;
        list.iter()
            .any(|n| field(n, "hostname") == "n2" && field(n, "status") == "down")
            .then_some(())
    });
    nodes[0]
        .cli(&["node", "rm", "n2"])
        .expect("remove a down node");
    assert_eq!(nodes[0].nodes().expect("node ls").len(), 2);
    let result = ctl_call(
        &nodes[2],
        worker_creds,
        true,
        manager_addr,
        CtlRequest::Ping,
    );
    denied(result, "has been removed");
}

/// Docker's view of the swarm: `GET /swarm` on the node's Engine API.
fn docker_swarm(node: &SwarmNode) -> Value {
    let swarm = node
        .lab_node()
        .exec(&[
            "curl",
            "-sS",
            "--unix-socket",
            &node.socket().display().to_string(),
            "http://docker/v1.47/swarm",
        ])
        .expect("GET /swarm");
    serde_json::from_str(&swarm).expect("json")
}

fn cert_expiry_of(manager: &SwarmNode, node: &str) -> Option<i64> {
    let out = manager.cli(&["node", "inspect", node]).ok()?;
    let view: Value = serde_json::from_str(&out).ok()?;
    view[0]["cert_not_after"].as_i64()
}

#[test]
fn certificates_renew_in_place_and_roles_change_through_raft() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, nodes) = swarm_lab(3);
    let (token, at, _) = init(&nodes[0], &["--cert-expiry", "9s"]);
    for node in &nodes[1..] {
        node.cli(&["swarm", "join", "--token", &token, &at])
            .expect("worker joins");
    }
    all_ready(&nodes[0], 3);

    // Renewal: the worker's certificate is replaced twice, and the node
    // stays ready on the same session.
    let first = eventually("n2's certificate expiry", || {
        cert_expiry_of(&nodes[0], "n2")
    });
    let second = eventually("a renewed certificate", || {
        cert_expiry_of(&nodes[0], "n2").filter(|e| *e > first)
    });
    eventually("a second renewal", || {
        cert_expiry_of(&nodes[0], "n2").filter(|e| *e > second)
    });
    all_ready(&nodes[0], 3);

    // Promotion: n2 becomes a voter and sees the cluster itself.
    let out = nodes[0].cli(&["node", "promote", "n2"]).expect("promote");
    assert!(out.contains("promoted to a manager"), "{out}");
    eventually("n2 a reachable manager", || {
        let list = nodes[1].nodes().ok()?;
        let n2 = list.iter().find(|n| field(n, "hostname") == "n2")?;
        (field(n2, "role") == "manager"
            && field(n2, "manager_status") == "Reachable"
            && list.len() == 3)
            .then_some(())
    });
    // Writes through the new manager reach the leader.
    nodes[1]
        .cli(&["node", "update", "--label-add", "via=n2", "n3"])
        .expect("update via the promoted manager");

    // Demotion: back to a worker; the last manager cannot go.
    nodes[0].cli(&["node", "demote", "n2"]).expect("demote");
    eventually("n2 a worker again", || {
        let list = nodes[0].nodes().ok()?;
        let n2 = list.iter().find(|n| field(n, "hostname") == "n2")?;
        (field(n2, "role") == "worker" && field(n2, "status") == "ready").then_some(())
    });
    eventually("n2 no longer answers manager calls", || {
        nodes[1]
            .cli(&["node", "ls"])
            .err()
            .map(|e| e.to_string())
            .filter(|e| e.contains("not a swarm manager"))
    });
    let err = nodes[0].cli_err(&["node", "demote", "n1"]);
    assert!(err.contains("last manager"), "{err}");
}

#[test]
fn the_daemon_tells_systemd_it_is_ready_once_its_api_answers_and_when_it_stops() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = shoal_netns_tests::lab::Lab::builder()
        .nodes(1)
        .build()
        .unwrap();
    let mut node = SwarmNode::new(lab.node(1).unwrap(), 1);
    // systemd's side of Type=notify: a datagram socket named by NOTIFY_SOCKET.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let systemd = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    node.daemon_env
        .push(("NOTIFY_SOCKET".to_owned(), path.display().to_string()));
    node.spawn_daemon().unwrap();
    let mut buf = [0u8; 512];
    let n = systemd.recv(&mut buf).expect("READY=1 within a minute");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    let pid = node.pid().unwrap();
    assert!(
        ready.lines().any(|l| l == format!("MAINPID={pid}")),
        "{ready}"
    );
    // Ready means answering: asked once, at once, no retry.
    node.cli(&["swarm", "inspect"])
        .expect("the API answers when READY=1 is sent");
    node.terminate();
    let n = systemd.recv(&mut buf).expect("STOPPING=1 on SIGTERM");
    assert_eq!(String::from_utf8_lossy(&buf[..n]), "STOPPING=1");
}

/// Whether `node`'s TLS key is stored sealed (no PEM private key on disk).
/// Whether the node's TLS key and its WireGuard key are each stored in
/// clear: (TLS, WireGuard).
fn keys_in_clear(node: &SwarmNode) -> (bool, bool) {
    let certs = node.state_dir().join("certificates");
    let tls = std::fs::read(certs.join("swarm-node.key")).expect("TLS key file");
    let wg = std::fs::read(certs.join("wireguard.key")).expect("WireGuard key file");
    (
        String::from_utf8_lossy(&tls).contains("PRIVATE KEY"),
        shoal_dataplane::wg::PrivateKey::from_base64(&String::from_utf8_lossy(&wg)).is_ok(),
    )
}

fn key_sealed(node: &SwarmNode) -> bool {
    keys_in_clear(node) == (false, false)
}

fn key_plain(node: &SwarmNode) -> bool {
    keys_in_clear(node) == (true, true)
}

#[test]
fn swarm_update_turns_autolock_on_and_off_and_sets_the_cert_expiry() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, mut nodes) = swarm_lab(1);
    init(&nodes[0], &[]);
    assert!(key_plain(&nodes[0]), "no autolock: the keys are plain");
    let err = nodes[0].cli_err(&["swarm", "update"]);
    assert!(err.contains("nothing to update"), "{err}");
    let err = nodes[0].cli_err(&["swarm", "update", "--key-rotation", "0"]);
    assert!(err.contains("invalid duration"), "{err}");

    let out = nodes[0]
        .cli(&["swarm", "update", "--autolock", "--cert-expiry", "2h"])
        .expect("swarm update");
    assert!(out.starts_with("Swarm updated."), "{out}");
    let key = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("SWMKEY-1-"))
        .expect("the new unlock key printed")
        .to_owned();
    eventually("the manager's key sealed under the unlock key", || {
        key_sealed(&nodes[0]).then_some(())
    });
    // Docker's view of the spec: the new lifetime, in nanoseconds.
    let swarm = docker_swarm(&nodes[0]);
    assert_eq!(
        swarm["Spec"]["CAConfig"]["NodeCertExpiry"],
        7200 * 1_000_000_000u64
    );
    assert_eq!(swarm["Spec"]["EncryptionConfig"]["AutoLockManagers"], true);

    // Locked after a restart, until the printed key is given.
    nodes[0].kill();
    nodes[0].start().expect("restart");
    assert!(nodes[0].cli_err(&["node", "ls"]).contains("swarm unlock"));
    nodes[0]
        .cli(&["swarm", "unlock", "--key", &key])
        .expect("unlock with the printed key");
    eventually("the unlocked manager serving", || {
        nodes[0].cli(&["node", "ls"]).ok()
    });

    // Off again: the key goes back to plain and a restart needs no key.
    nodes[0]
        .cli(&["swarm", "update", "--autolock=false"])
        .expect("autolock off");
    eventually("the manager's keys stored plain again", || {
        key_plain(&nodes[0]).then_some(())
    });
    nodes[0].kill();
    nodes[0].start().expect("restart");
    eventually("a restarted manager serving without a key", || {
        nodes[0].cli(&["node", "ls"]).ok()
    });
}

#[test]
fn the_heartbeat_period_is_a_swarm_setting_the_down_watch_follows() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, mut nodes) = swarm_lab(2);
    let (token, at, _) = init(&nodes[0], &[]);
    nodes[1]
        .cli(&["swarm", "join", "--token", &token, &at])
        .expect("worker joins");
    all_ready(&nodes[0], 2);
    let err = nodes[0].cli_err(&["swarm", "update", "--dispatcher-heartbeat", "2h"]);
    assert!(err.contains("100ms to 1h"), "{err}");
    nodes[0]
        .cli(&["swarm", "update", "--dispatcher-heartbeat", "8s"])
        .expect("a longer heartbeat period");
    let info: Value = serde_json::from_str(
        &nodes[0]
            .cli(&["swarm", "inspect", "--format", "json"])
            .expect("swarm inspect"),
    )
    .expect("json");
    assert_eq!(info["heartbeat_period_ms"], 8_000, "{info}");
    let swarm = docker_swarm(&nodes[0]);
    assert_eq!(
        swarm["Spec"]["Dispatcher"]["HeartbeatPeriod"],
        8 * 1_000_000_000u64
    );
    let status = |nodes: &[SwarmNode]| {
        nodes[0].nodes().ok().and_then(|list| {
            list.iter()
                .find(|n| field(n, "hostname") == "n2")
                .map(|n| field(n, "status").to_owned())
        })
    };

    // n2 beats once more (each second until told otherwise) and learns 8 s.
    std::thread::sleep(Duration::from_secs(2));
    // Silent for over twice the default grace (3.5 s): still ready, as
    // 3.5 periods of 8 s (28 s) have not passed.
    nodes[1].kill();
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(status(&nodes).as_deref(), Some("ready"));
    // Shortened to 1 s: a node sleeps out the 8 s it was told before it
    // can learn that, so it still has its 28 s.
    nodes[0]
        .cli(&["swarm", "update", "--dispatcher-heartbeat", "1s"])
        .expect("the default period again");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(status(&nodes).as_deref(), Some("ready"));
    eventually("n2 down", || {
        (status(&nodes).as_deref() == Some("down")).then_some(())
    });
}
