//! Docker's Engine API on real daemons: the stock `docker` client (Debian's,
//! installed by setup, and any other on PATH) talks to a lab swarm over
//! the shoal socket — version negotiation, `docker info`, `docker node ls`
//! and `docker node inspect` parsed by docker itself, and Docker's refusals
//! on a worker and for an unknown node.
//!
//! ```text
//!   n1 (manager) ── n2 (worker)      docker -H unix://<socket> ...
//! ```

use shoal_netns_tests::docker_kit::{docker, docker_clients};
use shoal_netns_tests::services_kit::ServiceLab;
use shoal_netns_tests::swarm_kit::{all_ready, eventually, init, swarm_lab};

#[test]
fn the_docker_client_lists_and_inspects_the_swarm_nodes() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, nodes) = swarm_lab(2);
    let (token, at, _) = init(&nodes[0], &[]);
    nodes[1]
        .cli(&["swarm", "join", "--token", &token, &at])
        .expect("n2 joins");
    all_ready(&nodes[0], 2);
    let n1_id = nodes[0]
        .cli(&["swarm", "inspect", "--format", "json"])
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["node_id"].as_str().map(str::to_owned))
        .expect("n1's node id");

    // shoal's own CLI takes -H before the command group, as docker does.
    let host = format!("unix://{}", nodes[0].socket().display());
    let table = nodes[0]
        .lab_node()
        .shoal(&["-H", &host, "node", "ls"])
        .expect("shoal -H ... node ls");
    assert!(table.lines().any(|l| l.contains("n2")), "{table}");

    for client in docker_clients() {
        let who = client.display().to_string();
        let api = docker(
            &client,
            &nodes[0],
            &["version", "--format", "{{.Server.APIVersion}}"],
        )
        .unwrap_or_else(|e| panic!("{who} version: {e}"));
        assert!(api.starts_with("1."), "{who}: server API version {api:?}");
        let state = docker(
            &client,
            &nodes[0],
            &[
                "info",
                "--format",
                "{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{.Swarm.ControlAvailable}}",
            ],
        )
        .unwrap_or_else(|e| panic!("{who} info: {e}"));
        assert_eq!(state, format!("active {n1_id} true"), "{who}");

        let table = docker(&client, &nodes[0], &["node", "ls"])
            .unwrap_or_else(|e| panic!("{who} node ls: {e}"));
        let rows: Vec<Vec<&str>> = table
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(rows.len(), 2, "{who}:\n{table}");
        let n1 = rows
            .iter()
            .find(|r| r.contains(&"n1"))
            .unwrap_or_else(|| panic!("{who}:\n{table}"));
        assert_eq!(
            &n1[..6],
            [n1_id.as_str(), "*", "n1", "Ready", "Active", "Leader"],
            "{who}:\n{table}"
        );
        let n2 = rows
            .iter()
            .find(|r| r.contains(&"n2"))
            .unwrap_or_else(|| panic!("{who}:\n{table}"));
        assert_eq!(&n2[1..4], ["n2", "Ready", "Active"], "{who}:\n{table}");

        let inspected = docker(
            &client,
            &nodes[0],
            &[
                "node",
                "inspect",
                "n2",
                "--format",
                "{{.Spec.Role}} {{.Status.State}} {{.Description.Hostname}}",
            ],
        )
        .unwrap_or_else(|e| panic!("{who} node inspect: {e}"));
        assert_eq!(inspected, "worker ready n2", "{who}");

        let unknown =
            docker(&client, &nodes[0], &["node", "inspect", "nope"]).expect_err("unknown node");
        // Older clients word a 404 themselves, newer ones print the daemon's.
        assert!(
            unknown.contains("No such node: nope") || unknown.contains("node nope not found"),
            "{who}: {unknown}"
        );
        let on_worker =
            docker(&client, &nodes[1], &["node", "ls"]).expect_err("node ls on a worker");
        assert!(
            on_worker.contains("This node is not a swarm manager"),
            "{who}: {on_worker}"
        );
    }
}

#[test]
fn the_docker_client_lists_services_tasks_networks_and_secrets() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(2);
    lab.cli(&["network", "create", "front"])
        .expect("network create");
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        "2",
        "--network",
        "front",
        "-p",
        "8080:80",
        "web:1",
    ])
    .expect("service create");
    lab.wait_running("web", 2);
    let manager = lab.manager();
    let secret = manager.state_dir().join("pw.txt");
    std::fs::write(&secret, "hunter2").expect("secret file");
    lab.cli(&["secret", "create", "pw", secret.to_str().expect("utf-8")])
        .expect("secret create");

    for client in docker_clients() {
        let who = client.display().to_string();
        let table = docker(&client, manager, &["service", "ls"])
            .unwrap_or_else(|e| panic!("{who} service ls: {e}"));
        let row: Vec<&str> = table
            .lines()
            .find(|l| l.contains("web"))
            .unwrap_or_else(|| panic!("{who}:\n{table}"))
            .split_whitespace()
            .collect();
        assert_eq!(
            &row[1..],
            ["web", "replicated", "2/2", "web:1", "*:8080->80/tcp"],
            "{who}:\n{table}"
        );

        let inspected = docker(
            &client,
            manager,
            &[
                "service",
                "inspect",
                "web",
                "--format",
                "{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}} {{len .Endpoint.VirtualIPs}}",
            ],
        )
        .unwrap_or_else(|e| panic!("{who} service inspect: {e}"));
        assert_eq!(
            inspected, "web 2 2",
            "{who}: the VIPs are on front and ingress"
        );

        let tasks = docker(
            &client,
            manager,
            &[
                "service",
                "ps",
                "web",
                "--format",
                "{{.Name}} {{.Image}} {{.Node}} {{.DesiredState}} {{.CurrentState}}",
            ],
        )
        .unwrap_or_else(|e| panic!("{who} service ps: {e}"));
        let mut rows: Vec<Vec<&str>> = tasks
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        rows.sort();
        assert_eq!(rows.len(), 2, "{who}:\n{tasks}");
        for (row, name) in rows.iter().zip(["web.1", "web.2"]) {
            assert_eq!(&row[..2], [name, "web:1"], "{who}:\n{tasks}");
            assert!(
                ["n1", "n2"].contains(&row[2]),
                "{who}: node names resolved:\n{tasks}"
            );
            assert_eq!(&row[3..5], ["Running", "Running"], "{who}:\n{tasks}");
        }
        let networks = docker(
            &client,
            manager,
            &[
                "network",
                "ls",
                "--format",
                "{{.Name}} {{.Driver}} {{.Scope}}",
            ],
        )
        .unwrap_or_else(|e| panic!("{who} network ls: {e}"));
        let mut networks: Vec<&str> = networks.lines().collect();
        networks.sort_unstable();
        assert_eq!(
            networks,
            ["front overlay swarm", "ingress overlay swarm"],
            "{who}"
        );
        let ingress = docker(
            &client,
            manager,
            &["network", "inspect", "ingress", "--format", "{{.Ingress}}"],
        )
        .unwrap_or_else(|e| panic!("{who} network inspect: {e}"));
        assert_eq!(ingress, "true", "{who}");
        let secrets = docker(&client, manager, &["secret", "ls", "--format", "{{.Name}}"])
            .unwrap_or_else(|e| panic!("{who} secret ls: {e}"));
        assert_eq!(secrets, "pw", "{who}");

        let missing =
            docker(&client, manager, &["service", "ps", "nope"]).expect_err("unknown service");
        assert!(missing.contains("nope"), "{who}: {missing}");
    }

    // Removal through Docker's API, with Debian's client.
    let client = &docker_clients()[0];
    assert_eq!(
        docker(client, manager, &["service", "rm", "web"]),
        Ok("web".to_owned())
    );
    assert_eq!(
        docker(client, manager, &["secret", "rm", "pw"]),
        Ok("pw".to_owned())
    );
    let services = lab.cli(&["service", "ls", "-q"]).expect("service ls");
    assert!(services.trim().is_empty(), "{services}");
    let secrets = lab.cli(&["secret", "ls", "-q"]).expect("secret ls");
    assert!(secrets.trim().is_empty(), "{secrets}");
    // The network goes once the service's tasks have left it.
    eventually("docker network rm front", || {
        docker(client, manager, &["network", "rm", "front"]).ok()
    });
    let gone = docker(client, manager, &["network", "inspect", "front"]).expect_err("removed");
    assert!(gone.contains("front"), "{gone}");
}

#[test]
fn the_docker_client_creates_scales_and_rolls_back_a_service() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(2);
    lab.cli(&["network", "create", "front"])
        .expect("network create");
    let manager = lab.manager();
    let client = &docker_clients()[0];
    let run = |args: &[&str]| docker(client, manager, args);

    // Waits for convergence the way docker does (its progress polls tasks).
    run(&[
        "service",
        "create",
        "--name",
        "api",
        "--replicas",
        "2",
        "--network",
        "front",
        "--restart-condition",
        "on-failure",
        "--no-resolve-image",
        "web:1",
    ])
    .unwrap_or_else(|e| panic!("docker service create: {e}"));
    assert_eq!(lab.wait_running("api", 2).values().sum::<usize>(), 2);
    let spec = &lab.inspect("api")["spec"];
    assert_eq!(spec["networks"][0], "front", "{spec}");
    assert_eq!(spec["restart_policy"]["condition"], "on-failure", "{spec}");

    // scale reads the spec, changes the replicas and writes it back: the
    // rest of the spec stays as it was.
    run(&["service", "scale", "--detach", "api=3"]).unwrap_or_else(|e| panic!("scale: {e}"));
    lab.wait_running("api", 3);
    let spec = &lab.inspect("api")["spec"];
    assert_eq!(spec["mode"]["replicated"]["replicas"], 3, "{spec}");
    assert_eq!(spec["restart_policy"]["condition"], "on-failure", "{spec}");
    assert_eq!(spec["networks"][0], "front", "{spec}");

    run(&["service", "update", "--detach", "--image", "web:2", "api"])
        .unwrap_or_else(|e| panic!("update: {e}"));
    let image = |lab: &ServiceLab| lab.inspect("api")["spec"]["image"].clone();
    assert_eq!(image(&lab), "web:2");
    run(&["service", "rollback", "--detach", "api"]).unwrap_or_else(|e| panic!("rollback: {e}"));
    assert_eq!(image(&lab), "web:1");

    // What shoal cannot run is refused naming the field.
    let refused = run(&[
        "service",
        "create",
        "--name",
        "bad",
        "--mount",
        "type=volume,source=v,target=/v,volume-driver=nfs",
        "--no-resolve-image",
        "--detach",
        "web:1",
    ])
    .expect_err("only the local volume driver exists");
    assert!(
        refused.contains(
            "TaskTemplate.ContainerSpec.Mounts.VolumeOptions.DriverConfig.Name is not supported"
        ),
        "{refused}"
    );
    let services = lab.cli(&["service", "ls", "-q"]).expect("service ls");
    assert_eq!(
        services.lines().count(),
        1,
        "the refused service was not created: {services}"
    );
}

#[test]
fn docker_service_logs_shows_every_tasks_lines_with_its_context() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(2);
    lab.create_ticker();
    let manager = lab.manager();
    let client = &docker_clients()[0];
    // `ticker.1.<task id>@n1    | tick 3`: docker's client resolved the
    // task, service and node from the details of every line.
    let nodes_seen = |text: &str| {
        let mut nodes: Vec<String> = text
            .lines()
            .filter_map(|l| l.split_once("| tick "))
            .filter(|(prefix, _)| prefix.trim_start().starts_with("ticker."))
            .filter_map(|(prefix, _)| prefix.trim().rsplit_once('@').map(|(_, n)| n.to_owned()))
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes
    };
    let logs = eventually("ticks from both nodes", || {
        let text = docker(client, manager, &["service", "logs", "ticker"]).ok()?;
        (nodes_seen(&text) == ["n1", "n2"]).then_some(text)
    });
    let tail = docker(
        client,
        manager,
        &["service", "logs", "--tail", "1", "ticker"],
    )
    .expect("service logs --tail 1");
    assert_eq!(
        tail.lines().count(),
        2,
        "one line per task:\n{tail}\n(all: {logs})"
    );
    // Each line carries its time (RFC 3339, nanoseconds) before its task.
    let stamped = docker(
        client,
        manager,
        &["service", "logs", "-t", "--tail", "1", "ticker"],
    )
    .expect("service logs -t");
    for line in stamped.lines() {
        let (time, rest) = line.split_once(' ').unwrap_or_default();
        assert!(
            time.len() == 30 && time.ends_with('Z') && rest.starts_with("ticker."),
            "{stamped}"
        );
    }
}
