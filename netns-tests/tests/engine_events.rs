//! `docker events` against shoal with the stock `docker` client: with
//! `--filter type=service` it sees a service's create, update and remove
//! (and nothing of other kinds), `--until` ends the stream, and a `since`
//! shoal has no history for is refused.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use shoal_netns_tests::docker_kit::{docker, docker_clients};
use shoal_netns_tests::services_kit::ServiceLab;
use shoal_netns_tests::swarm_kit::SwarmNode;

/// How long the test waits for any one event before it fails.
const EVENT_WAIT: Duration = Duration::from_secs(60);

/// `docker events ARGS --format '{{json .}}'` running, its lines arriving
/// on the receiver.
fn docker_events(
    client: &std::path::Path,
    node: &SwarmNode,
    config: &std::path::Path,
    args: &[&str],
) -> (Child, mpsc::Receiver<Value>) {
    let mut child = Command::new(client)
        .arg("--config")
        .arg(config)
        .arg("-H")
        .arg(format!("unix://{}", node.socket().display()))
        .arg("events")
        .args(args)
        .args(["--format", "{{json .}}"])
        .env_remove("DOCKER_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker events");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let Ok(event) = serde_json::from_str(&line) else {
                panic!("docker events printed a line that is not an event: {line}");
            };
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// The next event, or a failure naming what was awaited.
fn next(events: &mpsc::Receiver<Value>, waiting_for: &str) -> Value {
    events
        .recv_timeout(EVENT_WAIT)
        .unwrap_or_else(|_| panic!("no event while waiting for {waiting_for}"))
}

/// Reads events until `service`'s `action`; every event read must be a
/// service's.
fn until_event(events: &mpsc::Receiver<Value>, service: &str, action: &str) -> Value {
    loop {
        let event = next(events, &format!("{action} of {service}"));
        assert_eq!(
            event["Type"], "service",
            "only service events pass: {event}"
        );
        if event["Actor"]["Attributes"]["name"] == service && event["Action"] == action {
            return event;
        }
    }
}

#[test]
fn docker_events_follows_a_services_life() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(1);
    let manager = lab.manager();
    let client = &docker_clients()[0];
    let run = |args: &[&str]| docker(client, manager, args);
    let create = |name: &str| {
        run(&[
            "service",
            "create",
            "--detach",
            "--name",
            name,
            "--no-resolve-image",
            "web:1",
        ])
        .unwrap_or_else(|e| panic!("docker service create {name}: {e}"))
    };
    create("probe");
    let config = tempfile::tempdir().expect("docker config dir");
    let (mut child, events) = docker_events(
        client,
        manager,
        config.path(),
        &["--filter", "type=service"],
    );
    // The stream is live once it shows a change made after it started.
    let mut seen_probe = false;
    for round in 0..30 {
        let label = format!("round={round}");
        run(&[
            "service",
            "update",
            "--detach",
            "--label-add",
            &label,
            "probe",
        ])
        .unwrap_or_else(|e| panic!("update probe: {e}"));
        if let Ok(event) = events.recv_timeout(Duration::from_secs(2)) {
            assert_eq!(event["Actor"]["Attributes"]["name"], "probe", "{event}");
            seen_probe = true;
            break;
        }
    }
    assert!(seen_probe, "docker events showed no update of probe");

    let id = create("web");
    run(&["network", "create", "--driver", "overlay", "other"]).expect("network create");
    let created = until_event(&events, "web", "create");
    assert_eq!(created["Actor"]["ID"], id.trim(), "{created}");
    assert_eq!(created["scope"], "swarm", "{created}");
    run(&[
        "service",
        "update",
        "--detach",
        "--label-add",
        "tier=front",
        "web",
    ])
    .unwrap_or_else(|e| panic!("update web: {e}"));
    until_event(&events, "web", "update");
    run(&["service", "rm", "web"]).unwrap_or_else(|e| panic!("service rm: {e}"));
    let removed = until_event(&events, "web", "remove");
    assert_eq!(removed["Actor"]["ID"], id.trim(), "{removed}");
    // The child is this test's own docker client.
    child.kill().expect("stop docker events");
    child.wait().expect("reap docker events");
}

#[test]
fn until_ends_the_stream_and_since_without_history_is_refused() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(1);
    let manager = lab.manager();
    let client = &docker_clients()[0];
    let config = tempfile::tempdir().expect("docker config dir");
    let (mut child, events) = docker_events(client, manager, config.path(), &["--until", "0s"]);
    let mut ended = None;
    for _ in 0..300 {
        ended = child.try_wait().expect("docker events status");
        if ended.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if ended.is_none() {
        child.kill().expect("stop docker events");
        child.wait().expect("reap docker events");
        panic!("--until 0s did not end the stream");
    }
    assert!(ended.is_some_and(|s| s.success()), "{ended:?}");
    assert!(events.try_recv().is_err(), "no events before until");
    let refused = docker(
        client,
        manager,
        &["events", "--since", "1h", "--until", "0s"],
    )
    .expect_err("no history to replay");
    assert!(
        refused.contains("shoal keeps no event history"),
        "{refused}"
    );
}
