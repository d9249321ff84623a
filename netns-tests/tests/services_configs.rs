//! Configs on a one-node lab swarm with real containers: created with
//! shoal's CLI and with the stock `docker` client, each reaches the task as
//! a read-only file at its target with the owner and mode the service
//! names (`/NAME` by default), `inspect` shows the value, and removing a
//! config a service uses is refused in Docker's words.

use shoal_netns_tests::dns_kit::{exec_in_task, running_task};
use shoal_netns_tests::docker_kit::{docker, docker_clients};
use shoal_netns_tests::services_kit::ServiceLab;

/// Contents, owner, group and mode of `path` in the service's task, and
/// what writing it says.
fn file_in_task(lab: &ServiceLab, service: &str, path: &str) -> String {
    let task = running_task(lab, service);
    let script = format!("cat {path}; stat -c '%u %g %a' {path}; (echo x > {path}) 2>&1");
    exec_in_task(&lab.nodes, &task, &["sh", "-c", &script])
}

#[test]
fn shoal_config_files_reach_the_task_and_an_used_config_stays() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(1);
    let file = lab.manager().state_dir().join("site.conf");
    std::fs::write(&file, "listen 8080;\n").expect("config file");
    lab.cli(&["config", "create", "site", file.to_str().expect("utf-8")])
        .expect("config create");
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "app",
        "--config",
        "source=site,target=/etc/app/site.conf,uid=1000,gid=50,mode=0440",
        "--config",
        "site",
        "web:1",
    ])
    .expect("service create");
    lab.wait_running("app", 1);
    let seen = file_in_task(&lab, "app", "/etc/app/site.conf");
    assert!(
        seen.starts_with("listen 8080;\n1000 50 440\n"),
        "contents, owner and mode: {seen}"
    );
    assert!(seen.contains("Read-only file system"), "{seen}");
    let default = file_in_task(&lab, "app", "/site");
    assert!(
        default.starts_with("listen 8080;\n0 0 444\n"),
        "/NAME, root's, 0444 by default: {default}"
    );

    let inspect = lab.cli(&["config", "inspect", "site"]).expect("inspect");
    assert!(inspect.contains("bGlzdGVuIDgwODA7Cg=="), "{inspect}");
    let ls = lab.cli(&["config", "ls"]).expect("config ls");
    assert!(ls.contains(" site "), "{ls}");
    let refused = lab.manager().cli_err(&["config", "rm", "site"]);
    assert!(
        refused.contains("config 'site' is in use by the following service: app"),
        "{refused}"
    );
    lab.cli(&["service", "rm", "app"]).expect("service rm");
    lab.cli(&["config", "rm", "site"]).expect("config rm");
    let ls = lab.cli(&["config", "ls", "-q"]).expect("config ls");
    assert!(ls.trim().is_empty(), "{ls}");
}

#[test]
fn the_docker_client_creates_configs_and_gives_them_to_a_service() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(1);
    let manager = lab.manager();
    let client = &docker_clients()[0];
    let run = |args: &[&str]| docker(client, manager, args);
    let file = manager.state_dir().join("motd");
    std::fs::write(&file, "hello from docker\n").expect("config file");
    run(&[
        "config",
        "create",
        "--label",
        "tier=web",
        "motd",
        file.to_str().expect("utf-8"),
    ])
    .unwrap_or_else(|e| panic!("docker config create: {e}"));
    let listed = run(&[
        "config",
        "ls",
        "--filter",
        "label=tier=web",
        "--format",
        "{{.Name}}",
    ])
    .unwrap_or_else(|e| panic!("docker config ls: {e}"));
    assert_eq!(listed, "motd");
    let data = run(&[
        "config",
        "inspect",
        "--format",
        "{{json .Spec.Data}}",
        "motd",
    ])
    .unwrap_or_else(|e| panic!("docker config inspect: {e}"));
    assert_eq!(data, "\"aGVsbG8gZnJvbSBkb2NrZXIK\"");

    run(&[
        "service",
        "create",
        "--detach",
        "--name",
        "app",
        "--config",
        "src=motd,target=/etc/motd,mode=0400",
        "--no-resolve-image",
        "web:1",
    ])
    .unwrap_or_else(|e| panic!("docker service create: {e}"));
    lab.wait_running("app", 1);
    let seen = file_in_task(&lab, "app", "/etc/motd");
    assert!(seen.starts_with("hello from docker\n0 0 400\n"), "{seen}");
    let spec = &lab.inspect("app")["spec"];
    assert_eq!(spec["configs"][0]["target"], "/etc/motd", "{spec}");

    let refused = run(&["config", "rm", "motd"]).expect_err("in use");
    assert!(
        refused.contains("config 'motd' is in use by the following service: app"),
        "{refused}"
    );
    run(&[
        "service",
        "update",
        "--detach",
        "--config-rm",
        "motd",
        "app",
    ])
    .unwrap_or_else(|e| panic!("docker service update --config-rm: {e}"));
    assert_eq!(
        lab.inspect("app")["spec"]["configs"],
        serde_json::Value::Null
    );
    run(&["config", "rm", "motd"]).unwrap_or_else(|e| panic!("docker config rm: {e}"));
}
