//! Services on real containers in a three-node lab swarm (n1 manager, n2
//! and n3 workers): spreading, the routing mesh with the client's own
//! address, self-healing, rescheduling off a dead node, scaling,
//! constraints and drain, rolling updates under load, failing updates, and
//! global mode.
#![expect(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::collections::{BTreeMap, BTreeSet};

use shoal_netns_tests::services_kit::{
    Load, ServiceLab, get_from_task, is_running, node_named, task_image, who,
};
use shoal_netns_tests::swarm_kit::{eventually, field};

/// Creates the `front` network and a web service of `replicas` tasks
/// publishing 8080 → 80, detached; `extra` adds options.
fn web(lab: &ServiceLab, replicas: usize, extra: &[&str]) {
    lab.cli(&["network", "create", "--driver", "overlay", "front"])
        .unwrap();
    let replicas = replicas.to_string();
    let mut args = vec![
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        &replicas,
        "--network",
        "front",
        "-p",
        "8080:80",
    ];
    args.extend(extra);
    args.push("web:1");
    lab.cli(&args).unwrap();
}

#[test]
fn replicas_spread_and_answer_through_every_node_with_the_client_address() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = ServiceLab::new(3);
    let out = lab.cli(&["network", "create", "front"]).unwrap();
    assert!(!out.trim().is_empty(), "network create prints the ID");
    // Not detached: the command shows progress and returns converged.
    let out = lab
        .cli(&[
            "service",
            "create",
            "--name",
            "web",
            "--replicas",
            "6",
            "--network",
            "front",
            "-p",
            "8080:80",
            "web:1",
        ])
        .unwrap();
    assert!(out.contains("overall progress: 6 out of 6 tasks"), "{out}");
    assert!(
        out.contains("Service converged") || out.contains("converged"),
        "{out}"
    );
    let per_node = lab.wait_running("web", 6);
    let expected: BTreeMap<String, usize> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| ((*n).to_owned(), 2))
        .collect();
    assert_eq!(per_node, expected, "six replicas spread 2/2/2");
    lab.wait_mesh_backends(8080, 6);

    let client = lab.client("c1");
    let mut answered_by = BTreeSet::new();
    for addr in lab.node_addrs() {
        for _ in 0..6 {
            let (host, peer, version) = eventually("an answer through the mesh", || {
                who(&client, addr, 8080).ok()
            });
            assert_eq!(peer, client.addr().to_string(), "the task sees the client");
            assert_eq!(version, "1");
            answered_by.insert(host);
        }
    }
    assert!(
        answered_by.len() >= 3,
        "answers from several tasks: {answered_by:?}"
    );
    // A task's hostname is its ID's first 12 characters (Docker's).
    let ids: Vec<String> = lab
        .tasks("web")
        .iter()
        .map(|t| field(t, "id").to_owned())
        .collect();
    assert!(
        answered_by
            .iter()
            .all(|h| ids.iter().any(|id| id.starts_with(h.as_str()))),
        "{answered_by:?} are not all web tasks: {ids:?}"
    );

    let ls = lab.cli(&["service", "ls"]).unwrap();
    assert!(ls.contains("6/6") && ls.contains("*:8080->80/tcp"), "{ls}");
    let services = lab.manager().lab_node().shoal(&["dp", "services"]).unwrap();
    assert!(services.contains("8080"), "{services}");
}

/// The host PID of the process running in task `id`'s network namespace.
fn task_pids(lab: &ServiceLab, node: &str, task_id: &str) -> Vec<String> {
    let node = node_named(&lab.nodes, node);
    let out = node
        .lab_node()
        .exec(&["ip", "netns", "pids", &format!("shoal-{task_id}")])
        .unwrap_or_default();
    out.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn a_killed_container_is_replaced_and_kept_in_history() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(3);
    web(&lab, 3, &["--restart-delay", "1s"]);
    lab.wait_running("web", 3);
    let victim = lab.tasks("web").into_iter().find(is_running).unwrap();
    let victim_id = field(&victim, "id").to_owned();
    let node = field(&victim, "node_hostname").to_owned();
    let pids = task_pids(&lab, &node, &victim_id);
    assert!(
        !pids.is_empty(),
        "the task's container runs in its namespace"
    );
    for pid in &pids {
        std::process::Command::new("kill")
            .args(["-9", pid])
            .status()
            .unwrap();
    }
    let slot = victim["slot"].as_u64().unwrap();
    eventually("the slot to run a new task", || {
        let tasks = lab.tasks("web");
        let old = tasks.iter().find(|t| field(t, "id") == victim_id)?;
        let replaced = tasks.iter().any(|t| {
            t["slot"].as_u64() == Some(slot) && field(t, "id") != victim_id && is_running(t)
        });
        (old["status"]["state"] == "failed" && replaced).then_some(())
    });
    lab.wait_running("web", 3);
    let ps = lab.cli(&["service", "ps", "web"]).unwrap();
    assert!(ps.contains("\\_ web."), "history rows in service ps: {ps}");
    assert!(
        ps.contains("non-zero exit") || ps.contains("Failed"),
        "{ps}"
    );
}

#[test]
fn tasks_of_a_dead_node_come_back_elsewhere() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = ServiceLab::new(3);
    web(&lab, 6, &[]);
    lab.wait_running("web", 6);
    lab.nodes[2].kill();
    eventually("n3 down", || {
        let nodes = lab.manager().nodes().ok()?;
        nodes
            .iter()
            .any(|n| field(n, "hostname") == "n3" && field(n, "status") == "down")
            .then_some(())
    });
    let per_node = eventually("six tasks on n1 and n2", || {
        let per_node = lab.running_per_node("web");
        let on_live: usize = ["n1", "n2"]
            .iter()
            .map(|n| per_node.get(*n).copied().unwrap_or(0))
            .sum();
        (on_live == 6).then_some(per_node)
    });
    assert_eq!(per_node.get("n1"), Some(&3), "{per_node:?}");
    assert_eq!(per_node.get("n2"), Some(&3), "{per_node:?}");
}

#[test]
fn scale_up_and_down() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = ServiceLab::new(3);
    web(&lab, 6, &[]);
    lab.wait_running("web", 6);
    let out = lab.cli(&["service", "scale", "web=10"]).unwrap();
    assert!(
        out.contains("overall progress: 10 out of 10 tasks"),
        "{out}"
    );
    let per_node = lab.wait_running("web", 10);
    assert!(
        per_node.values().all(|c| (3..=4).contains(c)),
        "{per_node:?}"
    );
    lab.cli(&["service", "scale", "-d", "web=2"]).unwrap();
    lab.wait_running("web", 2);
    let client = lab.client("c1");
    let addr = lab.node_addrs()[2];
    eventually("answers after scaling down", || {
        who(&client, addr, 8080).ok()
    });
}

#[test]
fn constraints_and_drain_are_honoured() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(3);
    web(&lab, 4, &["--constraint", "node.hostname==n2"]);
    assert_eq!(
        lab.wait_running("web", 4),
        BTreeMap::from([("n2".to_owned(), 4)]),
        "every task on n2"
    );
    // A constraint no node meets: the task stays pending and says why.
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "nowhere",
        "--constraint",
        "node.labels.zone==mars",
        "web:1",
    ])
    .unwrap();
    let why = eventually("a pending task with a reason", || {
        let tasks = lab.tasks("nowhere");
        let task = tasks.first()?;
        (task["status"]["state"] == "pending").then(|| {
            task["status"]["err"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
    });
    assert!(why.contains("no suitable node"), "{why}");

    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "spread",
        "--replicas",
        "4",
        "web:1",
    ])
    .unwrap();
    lab.wait_running("spread", 4);
    lab.cli(&["node", "update", "--availability", "drain", "n3"])
        .unwrap();
    let per_node = eventually("spread off n3", || {
        let per_node = lab.running_per_node("spread");
        (per_node.values().sum::<usize>() == 4 && !per_node.contains_key("n3")).then_some(per_node)
    });
    assert_eq!(per_node.len(), 2, "{per_node:?}");
}

fn rolling_update_without_failures(order: &str) {
    let mut lab = ServiceLab::new(3);
    web(
        &lab,
        3,
        &[
            "--update-order",
            order,
            "--update-delay",
            "1s",
            "--update-parallelism",
            "1",
        ],
    );
    lab.wait_running("web", 3);
    let client = lab.client("c1");
    let addr = lab.node_addrs()[0];
    eventually("the service answers", || who(&client, addr, 8080).ok());
    let load = Load::start(&client, addr, 8080);
    eventually("some load served", || (load.counts().0 >= 5).then_some(()));
    let out = lab
        .cli(&["service", "update", "--image", "web:2", "web"])
        .unwrap();
    assert!(out.contains("converged"), "{out}");
    eventually("more load served after the update", || {
        let before = load.counts().0;
        (before >= 20).then_some(())
    });
    let (ok, failed) = load.stop();
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed during the update",
        ok + failed
    );
    let tasks = lab.tasks("web");
    let running: Vec<_> = tasks.iter().filter(|t| is_running(t)).collect();
    assert_eq!(running.len(), 3);
    assert!(
        running.iter().all(|t| task_image(t) == "web:2"),
        "{running:?}"
    );
    let (_, _, version) = who(&client, addr, 8080).unwrap();
    assert_eq!(version, "2");
}

#[test]
fn start_first_rolling_update_loses_no_request() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    rolling_update_without_failures("start-first");
}

#[test]
fn stop_first_rolling_update_loses_no_request() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    rolling_update_without_failures("stop-first");
}

fn update_state(lab: &ServiceLab) -> String {
    lab.inspect("web")["update_status"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_failing_update_pauses_or_rolls_back_as_configured() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(3);
    web(
        &lab,
        3,
        &[
            "--update-failure-action",
            "pause",
            "--update-monitor",
            "3s",
            // The broken task starts, then exits at once: the delay lets it
            // fail before the next slot's turn.
            "--update-delay",
            "3s",
            "--restart-delay",
            "1s",
        ],
    );
    lab.wait_running("web", 3);
    let err = lab
        .manager()
        .cli_err(&["service", "update", "--image", "web:broken", "web"]);
    assert!(err.contains("paused") || err.contains("update"), "{err}");
    eventually("the update paused", || {
        (update_state(&lab) == "paused").then_some(())
    });
    // Pausing leaves the other tasks on the old image, still serving.
    let running = lab.tasks("web").into_iter().filter(is_running).count();
    assert!(running >= 2, "the unaffected slots keep running");

    lab.cli(&[
        "service",
        "update",
        "-d",
        "--update-failure-action",
        "rollback",
        "--image",
        "web:1",
        "web",
    ])
    .unwrap();
    lab.wait_running("web", 3);
    lab.cli(&["service", "update", "-d", "--image", "web:broken", "web"])
        .unwrap();
    eventually("the update rolled back", || {
        (update_state(&lab) == "rollback_completed").then_some(())
    });
    lab.wait_running("web", 3);
    let tasks = lab.tasks("web");
    assert!(
        tasks
            .iter()
            .filter(|t| is_running(t))
            .all(|t| task_image(t) == "web:1"),
        "rolled back to web:1"
    );
}

#[test]
fn global_mode_runs_one_task_per_node_including_a_late_joiner() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::partly_joined(3, 2);
    lab.cli(&[
        "service", "create", "-d", "--name", "agent", "--mode", "global", "web:1",
    ])
    .unwrap();
    assert_eq!(
        lab.wait_running("agent", 2),
        BTreeMap::from([("n1".to_owned(), 1), ("n2".to_owned(), 1)])
    );
    lab.join(2);
    assert_eq!(
        lab.wait_running("agent", 3),
        BTreeMap::from([
            ("n1".to_owned(), 1),
            ("n2".to_owned(), 1),
            ("n3".to_owned(), 1)
        ])
    );
}

#[test]
fn secrets_reach_their_tasks_and_logs_come_from_every_node() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(3);
    let file = lab.lab.nodes()[0].state_dir().join("db-password");
    std::fs::write(&file, "s3cr3t-value\n").unwrap();
    lab.cli(&["secret", "create", "db", file.to_str().unwrap()])
        .unwrap();
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "reader",
        "--replicas",
        "3",
        "--secret",
        "db",
        "web:1",
        "sh",
        "-c",
        "echo \"read $(cat /run/secrets/db)\"; exec sleep 600",
    ])
    .unwrap();
    assert_eq!(lab.wait_running("reader", 3).len(), 3, "one task per node");
    let logs = eventually("every task's line in the logs", || {
        let logs = lab.cli(&["service", "logs", "reader"]).ok()?;
        (logs.matches("read s3cr3t-value").count() == 3).then_some(logs)
    });
    for node in ["n1", "n2", "n3"] {
        assert!(
            logs.contains(&format!("@{node}")),
            "logs name their node: {logs}"
        );
    }
    // The secret is in use: it cannot be removed, and the refusal says so.
    let err = lab.manager().cli_err(&["secret", "rm", "db"]);
    assert!(err.contains("in use") || err.contains("reader"), "{err}");
    let ls = lab.cli(&["secret", "ls"]).unwrap();
    assert!(ls.contains("db") && !ls.contains("s3cr3t"), "{ls}");
}

#[test]
fn a_task_calling_its_own_service_vip_always_gets_an_answer() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(3);
    web(&lab, 3, &[]);
    lab.wait_running("web", 3);
    let vip = lab.vip("web", "front");
    let task = lab.tasks("web").into_iter().find(is_running).unwrap();
    let url = format!("http://{vip}:80/cgi-bin/who");
    let call = || get_from_task(field(&task, "id"), &url);
    // Every node programs the VIP's backends from the assignment that saw
    // them running, a moment after `service ps` does: wait until all three
    // nodes balance over all three tasks.
    eventually("every node balancing the VIP over three tasks", || {
        lab.nodes
            .iter()
            .all(|node| {
                let services = node
                    .lab_node()
                    .shoal(&["dp", "services", "--format", "json"])
                    .unwrap_or_default();
                let rows: Vec<serde_json::Value> =
                    serde_json::from_str(&services).unwrap_or_default();
                rows.iter().any(|r| {
                    r["vip"] == vip.as_str()
                        && r["port"] == 80
                        && r["protocol"] == "tcp"
                        && r["active_backends"] == 3
                })
            })
            .then_some(())
    });
    eventually("a first answer from the VIP", || {
        call().status.success().then_some(())
    });
    let mut answered_by = BTreeSet::new();
    // Each request is a new flow; with three backends a third of them
    // would hash to the caller itself.
    for _ in 0..24 {
        let out = call();
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        answered_by.insert(
            body.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(
        !answered_by.contains(field(&task, "name")),
        "{answered_by:?}"
    );
    assert_eq!(
        answered_by.len(),
        2,
        "the two other tasks answer: {answered_by:?}"
    );
}

#[test]
fn a_service_without_ports_answers_other_tasks_on_every_port_of_its_vip() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(3);
    web(&lab, 1, &[]);
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "api",
        "--replicas",
        "2",
        "--network",
        "front",
        "web:2",
    ])
    .unwrap();
    lab.wait_running("web", 1);
    lab.wait_running("api", 2);
    let vip = lab.vip("api", "front");
    let caller = lab.tasks("web").into_iter().find(is_running).unwrap();
    // No port was published or declared: the VIP still answers on the
    // port the tasks listen on, as Swarm's do.
    let url = format!("http://{vip}:80/cgi-bin/who");
    let answer = eventually("api answering on its VIP", || {
        let out = get_from_task(field(&caller, "id"), &url);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    // The answering task's hostname is its ID's first 12 characters.
    let api_hosts: Vec<String> = lab
        .tasks("api")
        .iter()
        .map(|t| field(t, "id")[..12].to_owned())
        .collect();
    let host = answer.split_whitespace().next().unwrap_or_default();
    assert!(
        api_hosts.iter().any(|h| h == host) && answer.trim_end().ends_with(" 2"),
        "{answer} (api tasks: {api_hosts:?})"
    );
    let services = lab.manager().lab_node().shoal(&["dp", "services"]).unwrap();
    assert!(services.contains(&format!("{vip}:*/tcp")), "{services}");
}
