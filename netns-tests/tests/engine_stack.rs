//! `docker stack deploy` onto shoal with the stock `docker` client: a
//! compose file with two services on a network of the stack's own (one
//! reaches the other by its short name), a published port, a secret, a
//! config and a named volume;
//! `docker stack services/ps` show them, the mesh answers on every node,
//! and `docker stack rm` removes everything the stack created.
//!
//! ```text
//!   n1 (manager) ── n2 (worker) ── client      docker -H unix://<socket> stack ...
//! ```

use shoal_netns_tests::dns_kit::{exec_in_task, running_task};
use shoal_netns_tests::docker_kit::{docker, docker_clients};
use shoal_netns_tests::services_kit::{ServiceLab, who};
use shoal_netns_tests::swarm_kit::eventually;

const COMPOSE: &str = r#"
version: "3.8"
services:
  web:
    image: web:1
    ports:
      - "8080:80"
    networks: [back]
    secrets: [pw]
    configs:
      - source: site
        target: /etc/site.conf
    deploy:
      replicas: 2
  api:
    image: web:1
    networks: [back]
    volumes:
      - data:/data
networks:
  back:
    driver: overlay
secrets:
  pw:
    file: ./pw.txt
configs:
  site:
    file: ./site.conf
volumes:
  data:
"#;

/// Lines of `docker ... --format` output, sorted.
fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_owned()).collect();
    lines.sort();
    lines
}

#[test]
fn docker_stack_deploy_runs_a_compose_file_and_stack_rm_removes_it() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = ServiceLab::new(2);
    let client_node = lab.client("client");
    let manager = lab.manager();
    let dir = manager.state_dir().join("stack");
    std::fs::create_dir_all(&dir).expect("stack dir");
    std::fs::write(dir.join("compose.yml"), COMPOSE).expect("compose file");
    std::fs::write(dir.join("pw.txt"), "hunter2").expect("secret file");
    std::fs::write(dir.join("site.conf"), "listen 80;\n").expect("config file");
    let compose = dir.join("compose.yml");
    let client = &docker_clients()[0];
    let run = |args: &[&str]| docker(client, manager, args);

    let deployed = run(&[
        "stack",
        "deploy",
        "--resolve-image",
        "never",
        "-c",
        compose.to_str().expect("utf-8"),
        "app",
    ])
    .unwrap_or_else(|e| panic!("docker stack deploy: {e}"));
    assert!(deployed.contains("Creating service app_web"), "{deployed}");
    lab.wait_running("app_web", 2);
    lab.wait_running("app_api", 1);

    let services = run(&[
        "stack",
        "services",
        "app",
        "--format",
        "{{.Name}} {{.Replicas}} {{.Ports}}",
    ])
    .unwrap_or_else(|e| panic!("docker stack services: {e}"));
    assert_eq!(
        sorted_lines(&services),
        ["app_api 1/1", "app_web 2/2 *:8080->80/tcp"],
        "{services}"
    );
    let tasks = run(&[
        "stack",
        "ps",
        "app",
        "--format",
        "{{.Name}} {{.CurrentState}}",
    ])
    .unwrap_or_else(|e| panic!("docker stack ps: {e}"));
    let names: Vec<String> = sorted_lines(&tasks)
        .iter()
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["app_api.1", "app_web.1", "app_web.2"], "{tasks}");

    // The stack's network and secret carry its namespace; web reaches api
    // by its short name (the alias stacks give every service).
    let spec = &lab.inspect("app_web")["spec"];
    assert_eq!(spec["networks"][0], "app_back", "{spec}");
    assert_eq!(spec["secrets"][0]["source"], "app_pw", "{spec}");
    let web = running_task(&lab, "app_web");
    let answer = eventually("web calling api by name", || {
        let out = exec_in_task(
            &lab.nodes,
            &web,
            &["wget", "-qO-", "http://api/cgi-bin/who"],
        );
        (out.split_whitespace().count() == 3).then_some(out)
    });
    assert!(answer.contains("web:1") || !answer.is_empty(), "{answer}");
    let secret = exec_in_task(&lab.nodes, &web, &["cat", "/run/secrets/pw"]);
    assert_eq!(secret.trim(), "hunter2");
    let config = exec_in_task(&lab.nodes, &web, &["cat", "/etc/site.conf"]);
    assert_eq!(config, "listen 80;\n", "the stack's config at its target");
    // The stack's named volume (namespaced `app_data`) is mounted in api.
    let api = running_task(&lab, "app_api");
    let wrote = exec_in_task(
        &lab.nodes,
        &api,
        &["sh", "-c", "echo kept > /data/probe && cat /data/probe"],
    );
    assert_eq!(wrote, "kept\n", "api writes to its volume");
    let api_node = lab.nodes.iter().find(|n| n.name == api.node).unwrap();
    let volumes = api_node.cli(&["volume", "ls"]).unwrap();
    assert!(volumes.contains("app_data"), "{volumes}");
    for addr in lab.node_addrs() {
        eventually("the published port through the mesh", || {
            who(&client_node, addr, 8080).ok()
        });
    }

    let removed = run(&["stack", "rm", "app"]).unwrap_or_else(|e| panic!("docker stack rm: {e}"));
    assert!(removed.contains("Removing service app_web"), "{removed}");
    let left = lab.cli(&["service", "ls", "-q"]).expect("service ls");
    assert!(left.trim().is_empty(), "services left: {left}");
    let secrets = lab.cli(&["secret", "ls", "-q"]).expect("secret ls");
    assert!(secrets.trim().is_empty(), "secrets left: {secrets}");
    let configs = lab.cli(&["config", "ls", "-q"]).expect("config ls");
    assert!(configs.trim().is_empty(), "configs left: {configs}");
    eventually("the stack's network removed", || {
        let networks = lab.cli(&["network", "ls", "--format", "json"]).ok()?;
        (!networks.contains("app_back")).then_some(())
    });
}
