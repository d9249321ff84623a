//! VIP isolation on real containers in a three-node lab swarm: a service's
//! VIP answers only tasks that share a network with it; and a node's data
//! plane holds only the services and endpoints its own tasks reach.
//!
//! ```text
//!   member   (front)            ──► VIP of web on front ──► web (front)   answered
//!   outsider (ingress + back)   ──► VIP of web on front     dropped, not-a-member
//! ```
//!
//! The outsider publishes a port, so it is attached to `ingress` (eth0, the
//! default route) and `back`: the report that led here was such a task
//! reaching a `front`-only service through its VIP.
#![expect(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use serde_json::Value;
use shoal_netns_tests::overlay_kit::stats::dp_counter;
use shoal_netns_tests::services_kit::{ServiceLab, get_from_task, is_running, node_named};
use shoal_netns_tests::swarm_kit::{eventually, field};

/// `service create -d --name NAME --replicas 1 ARGS... web:1`.
fn one_task(lab: &ServiceLab, name: &str, args: &[&str]) {
    let mut all = vec!["service", "create", "-d", "--name", name, "--replicas", "1"];
    all.extend(args);
    all.push("web:1");
    lab.cli(&all).unwrap();
    lab.wait_running(name, 1);
}

/// The running task of a one-task service.
fn the_task(lab: &ServiceLab, service: &str) -> Value {
    lab.tasks(service).into_iter().find(is_running).unwrap()
}

/// Whether `node`'s data plane has an entry for `vip` (any port).
fn programs_vip(lab: &ServiceLab, node: &str, vip: &str) -> bool {
    let out = node_named(&lab.nodes, node)
        .lab_node()
        .shoal(&["dp", "services", "--format", "json"])
        .unwrap_or_default();
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap_or_default();
    rows.iter().any(|r| r["vip"] == vip)
}

/// Conntrack flows on `node` from any address of `task` to `service`
/// (`VIP:port`), as `dp conntrack --format json` shows them.
fn flows_from(lab: &ServiceLab, node: &str, task: &Value, service: &str) -> Vec<Value> {
    let addrs: Vec<String> = task["networks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["ip"].as_str().map(|ip| format!("{ip}:")))
        .collect();
    let out = node_named(&lab.nodes, node)
        .lab_node()
        .shoal(&["dp", "conntrack", "--format", "json"])
        .unwrap();
    let report: Value = serde_json::from_str(&out).unwrap();
    report["flows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            let client = f["client"].as_str().unwrap_or_default();
            f["service"] == service && addrs.iter().any(|a| client.starts_with(a.as_str()))
        })
        .cloned()
        .collect()
}

#[test]
fn a_vip_answers_only_tasks_that_share_a_network_with_its_service() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(3);
    for net in ["front", "back"] {
        lab.cli(&["network", "create", "--driver", "overlay", net])
            .unwrap();
    }
    one_task(&lab, "web", &["--network", "front"]);
    one_task(&lab, "member", &["--network", "front"]);
    // The outsider shares a node with the member, so that node balances
    // web's VIP (a node holds the services its tasks reach).
    let beside = format!(
        "node.hostname=={}",
        field(&the_task(&lab, "member"), "node_hostname")
    );
    one_task(
        &lab,
        "outsider",
        &[
            "--network",
            "back",
            "-p",
            "8081:80",
            "--constraint",
            &beside,
        ],
    );
    let vip = lab.vip("web", "front");
    let url = format!("http://{vip}:80/cgi-bin/who");

    let member = the_task(&lab, "member");
    let answer = eventually("web answering a task on front through its VIP", || {
        let out = get_from_task(field(&member, "id"), &url);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    // web's task answered: its hostname is its ID's first 12 characters.
    let web_host = field(&the_task(&lab, "web"), "id")[..12].to_owned();
    assert!(answer.starts_with(&format!("{web_host} ")), "{answer}");

    let outsider = the_task(&lab, "outsider");
    let networks = outsider["networks"].to_string();
    assert!(
        networks.contains("ingress") && networks.contains("back") && !networks.contains("front"),
        "the outsider is on ingress and back only: {networks}"
    );
    let node = field(&outsider, "node_hostname").to_owned();
    // Its node balances web's VIP (the member is there), so a refusal
    // below is isolation, not a VIP not programmed.
    eventually("the outsider's node programming web's VIP", || {
        programs_vip(&lab, &node, &vip).then_some(())
    });
    let attempts = 3;
    for attempt in 0..attempts {
        let out = get_from_task(field(&outsider, "id"), &url);
        assert!(
            !out.status.success(),
            "attempt {attempt}: a task on ingress+back reached a front-only service's VIP: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let translated = flows_from(&lab, &node, &outsider, &format!("{vip}:80"));
    assert!(
        translated.is_empty(),
        "the outsider's SYNs to a front-only VIP were translated to a backend: {translated:?}"
    );
    // Each attempt sent at least its SYN; nothing else in this fresh lab
    // sends to a VIP of another network.
    let refused = dp_counter(node_named(&lab.nodes, &node).lab_node(), "not-a-member");
    assert!(
        refused >= attempts,
        "{attempts} refused connections, but only {refused} packets counted as not-a-member"
    );
}

/// The overlay endpoints `node` knows (`dp endpoints`), as addresses.
fn endpoints_on(lab: &ServiceLab, node: &str) -> Vec<String> {
    let out = node_named(&lab.nodes, node)
        .lab_node()
        .shoal(&["dp", "endpoints", "--format", "json"])
        .unwrap_or_default();
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap_or_default();
    rows.iter()
        .filter_map(|r| r["ip"].as_str().map(str::to_owned))
        .collect()
}

/// The address of a one-task service's task on `network`.
fn task_ip(lab: &ServiceLab, service: &str, network: &str) -> String {
    let task = the_task(lab, service);
    let attachment = task["networks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["network"] == network)
        .unwrap();
    field(attachment, "ip").to_owned()
}

#[test]
fn a_node_holds_only_the_services_and_endpoints_its_tasks_reach() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(2);
    for net in ["a", "b"] {
        lab.cli(&["network", "create", "--driver", "overlay", net])
            .unwrap();
    }
    one_task(
        &lab,
        "alpha",
        &["--network", "a", "--constraint", "node.hostname==n1"],
    );
    one_task(
        &lab,
        "beta",
        &["--network", "b", "--constraint", "node.hostname==n2"],
    );
    let (alpha_vip, beta_vip) = (lab.vip("alpha", "a"), lab.vip("beta", "b"));
    let beta_ip = task_ip(&lab, "beta", "b");
    eventually("each node balancing its own task's service", || {
        (programs_vip(&lab, "n1", &alpha_vip) && programs_vip(&lab, "n2", &beta_vip)).then_some(())
    });
    assert!(!programs_vip(&lab, "n1", &beta_vip), "n1 holds b's service");
    assert!(
        !programs_vip(&lab, "n2", &alpha_vip),
        "n2 holds a's service"
    );
    let on_n1 = endpoints_on(&lab, "n1");
    assert!(
        !on_n1.contains(&beta_ip),
        "n1 knows b's task {beta_ip}: {on_n1:?}"
    );

    // A task of n1 joins b: now n1 needs b's service and its remote task.
    one_task(
        &lab,
        "gamma",
        &["--network", "b", "--constraint", "node.hostname==n1"],
    );
    eventually("n1 balancing b's service once its own task is on b", || {
        (programs_vip(&lab, "n1", &beta_vip) && endpoints_on(&lab, "n1").contains(&beta_ip))
            .then_some(())
    });
}
