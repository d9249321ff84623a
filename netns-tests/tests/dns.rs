//! The embedded DNS on real containers in a three-node lab swarm (n1
//! manager, n2 and n3 workers), asked from inside tasks with busybox's
//! `nslookup` (through the task's own /etc/resolv.conf) and `dig`:
//!
//! ```text
//!   world (dnsmasq: upstream.example, big.example)      198.18.0.201
//!     │ underlay 198.18.0.0/24
//!   n1 manager ── n2 ── n3       daemons: --dns-upstream 198.18.0.201
//!   overlay "back": db (alias store), rr (dnsrr), web     "side": other
//! ```
//!
//! A two-tier application (`web` on n3 calls `db` on n2 by name and by
//! alias), `tasks.db` following scale up and down, dnsrr, a service on a
//! network the caller is not on (NXDOMAIN), names forwarded to the
//! world's resolver (a truncated UDP answer retried over TCP), and a
//! daemon restart that must keep answering, with fresh records.
#![expect(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::net::Ipv4Addr;

use shoal_netns_tests::dns_kit::{
    TaskRef, exec_in_task, nslookup, running_task, start_world_resolver, task_addrs,
    world_resolver_addr,
};
use shoal_netns_tests::services_kit::ServiceLab;
use shoal_netns_tests::swarm_kit::eventually;

/// A lab whose daemons forward to the world's resolver.
fn dns_lab() -> ServiceLab {
    let upstream = world_resolver_addr().to_string();
    ServiceLab::with_daemon_args(3, &["--dns-upstream", &upstream])
}

/// `service create -d --name NAME ARGS... web:1`.
fn create(lab: &ServiceLab, name: &str, args: &[&str]) {
    let mut all = vec!["service", "create", "-d", "--name", name];
    all.extend(args);
    all.push("web:1");
    lab.cli(&all).unwrap();
}

/// Waits until `name` resolves in `task` to exactly `want`.
fn resolves_to(lab: &ServiceLab, task: &TaskRef, name: &str, want: &[Ipv4Addr]) {
    let mut want = want.to_vec();
    want.sort();
    let mut last = Err(String::new());
    let found = shoal_netns_tests::swarm_kit::poll_until(|| {
        last = nslookup(&lab.nodes, task, name);
        last.as_ref().is_ok_and(|got| *got == want)
    });
    assert!(
        found,
        "{name} should resolve to {want:?} in {task:?}; last: {last:?}"
    );
}

fn vip(lab: &ServiceLab, service: &str, network: &str) -> Ipv4Addr {
    lab.vip(service, network).parse().unwrap()
}

#[test]
fn a_two_tier_app_resolves_names_aliases_tasks_and_dnsrr_only_on_shared_networks() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = dns_lab();
    for network in ["back", "side"] {
        lab.cli(&["network", "create", "--driver", "overlay", network])
            .unwrap();
    }
    // db never shares web's node: every answer crosses the overlay.
    let not_n3 = "node.hostname!=n3";
    create(
        &lab,
        "db",
        &["--network", "name=back,alias=store", "--constraint", not_n3],
    );
    create(
        &lab,
        "web",
        &[
            "--network",
            "back",
            "--hostname",
            "frontend",
            "--constraint",
            "node.hostname==n3",
        ],
    );
    create(&lab, "other", &["--network", "side"]);
    create(
        &lab,
        "rr",
        &[
            "--network",
            "back",
            "--endpoint-mode",
            "dnsrr",
            "--replicas",
            "2",
        ],
    );
    for (service, count) in [("db", 1), ("web", 1), ("other", 1), ("rr", 2)] {
        lab.wait_running(service, count);
    }
    let web = running_task(&lab, "web");
    assert_eq!(web.node, "n3");

    // Docker's files.
    let resolv = exec_in_task(&lab.nodes, &web, &["cat", "/etc/resolv.conf"]);
    assert_eq!(resolv, "nameserver 127.0.0.11\noptions ndots:0\n");
    assert_eq!(
        exec_in_task(&lab.nodes, &web, &["hostname"]).trim(),
        "frontend"
    );
    assert_eq!(
        exec_in_task(&lab.nodes, &web, &["cat", "/etc/hostname"]),
        "frontend\n"
    );
    let web_ip = task_addrs(&lab, "web", "back")[0];
    let hosts = exec_in_task(&lab.nodes, &web, &["cat", "/etc/hosts"]);
    assert!(hosts.contains("127.0.0.1\tlocalhost\n"), "{hosts}");
    assert!(hosts.contains(&format!("{web_ip}\tfrontend\n")), "{hosts}");

    // Name and alias: the VIP on the shared network, and it answers.
    let db_vip = vip(&lab, "db", "back");
    resolves_to(&lab, &web, "db", &[db_vip]);
    resolves_to(&lab, &web, "store", &[db_vip]);
    // The application's own resolver (busybox's static glibc, reading
    // the task's /etc/resolv.conf) finds db by name and by alias; busybox
    // `nc` carries the request (its `wget` crashes without glibc's NSS).
    let db = running_task(&lab, "db");
    let db_host = db.id[..12].to_owned();
    for name in ["db", "store"] {
        let script = format!("printf 'GET /cgi-bin/who HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {name} 80");
        let body = eventually(&format!("web to reach {name}"), || {
            let out = exec_in_task(&lab.nodes, &web, &["sh", "-c", &script]);
            out.contains(&format!("\n{db_host} ")).then_some(out)
        });
        assert!(
            body.contains(&web_ip.to_string()),
            "db saw the caller: {body}"
        );
    }
    // A task's own names: `db.1.<id>`, its hostname.
    let db_ip = task_addrs(&lab, "db", "back");
    resolves_to(&lab, &web, &format!("db.1.{}", db.id), &db_ip);
    resolves_to(&lab, &web, &db_host, &db_ip);
    resolves_to(&lab, &web, "frontend", &[web_ip]);

    // `other` lives only on `side`: no answer for web, at once.
    let out = nslookup(&lab.nodes, &web, "other").unwrap_err();
    assert!(
        out.contains("NXDOMAIN"),
        "a service off the caller's networks: {out}"
    );
    let out = nslookup(&lab.nodes, &web, "tasks.nosuch").unwrap_err();
    assert!(out.contains("NXDOMAIN"), "an unknown cluster name: {out}");
    let other = running_task(&lab, "other");
    resolves_to(&lab, &other, "other", &[vip(&lab, "other", "side")]);

    // dnsrr: the task addresses, and no VIP at all.
    assert!(
        lab.inspect("rr")["endpoint"]["vips"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    resolves_to(&lab, &web, "rr", &task_addrs(&lab, "rr", "back"));

    // tasks.db follows scaling, both ways, with no stale entry.
    resolves_to(&lab, &web, "tasks.db", &db_ip);
    lab.cli(&["service", "scale", "-d", "db=3"]).unwrap();
    lab.wait_running("db", 3);
    let three = task_addrs(&lab, "db", "back");
    assert_eq!(three.len(), 3);
    resolves_to(&lab, &web, "tasks.db", &three);
    lab.cli(&["service", "scale", "-d", "db=1"]).unwrap();
    lab.wait_running("db", 1);
    let one = eventually("one db task left with an address", || {
        let addrs = task_addrs(&lab, "db", "back");
        (addrs.len() == 1).then_some(addrs)
    });
    resolves_to(&lab, &web, "tasks.db", &one);
    resolves_to(&lab, &web, "db", &[db_vip]);
}

#[test]
fn other_names_go_upstream_over_udp_and_tcp_and_a_restart_keeps_answers_fresh() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = dns_lab();
    let world = lab.client("world");
    assert_eq!(world.addr(), world_resolver_addr());
    let mut records = vec![(Ipv4Addr::new(198, 51, 100, 7), "upstream.example")];
    records.extend((1..=40).map(|n| (Ipv4Addr::new(198, 51, 100, 100 + n), "big.example")));
    start_world_resolver(&world, world.state_dir(), &records);
    lab.cli(&["network", "create", "--driver", "overlay", "back"])
        .unwrap();
    create(
        &lab,
        "web",
        &["--network", "back", "--constraint", "node.hostname==n2"],
    );
    create(&lab, "api", &["--network", "back"]);
    lab.wait_running("web", 1);
    lab.wait_running("api", 1);
    let web = running_task(&lab, "web");

    resolves_to(
        &lab,
        &web,
        "upstream.example",
        &[Ipv4Addr::new(198, 51, 100, 7)],
    );
    // 40 A records do not fit 512 bytes: dig gets TC over UDP, retries
    // over TCP, and both legs go through the embedded resolver.
    let netns = format!("shoal-{}", web.id);
    let dig = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &netns,
            "dig",
            "@127.0.0.11",
            "big.example",
            "+noedns",
        ])
        .args(["+tries=1", "+time=5"])
        .output()
        .unwrap();
    let dig = String::from_utf8_lossy(&dig.stdout);
    assert!(dig.contains("Truncated, retrying in TCP mode"), "{dig}");
    let answers = dig
        .lines()
        .filter(|l| l.starts_with("big.example."))
        .count();
    assert_eq!(answers, 40, "the whole answer over TCP: {dig}");

    // The daemon of web's node dies; api goes away meanwhile; after the
    // restart the adopted task is answered again, from fresh records.
    let api_vip = vip(&lab, "api", "back");
    resolves_to(&lab, &web, "api", &[api_vip]);
    lab.nodes[1].kill();
    lab.cli(&["service", "rm", "api"]).unwrap();
    lab.nodes[1].start().unwrap();
    eventually("api to be gone from web's DNS", || {
        let out = nslookup(&lab.nodes, &web, "api").err()?;
        out.contains("NXDOMAIN").then_some(())
    });
    resolves_to(
        &lab,
        &web,
        "upstream.example",
        &[Ipv4Addr::new(198, 51, 100, 7)],
    );
}

/// The hostname of the raft leader as `node` sees it, once there is one
/// that is not `not`.
fn leader_seen_by(node: &shoal_netns_tests::swarm_kit::SwarmNode, not: &str) -> String {
    eventually(&format!("a leader other than {not:?}"), || {
        let nodes = node.nodes().ok()?;
        shoal_netns_tests::swarm_kit::leader_name(&nodes).filter(|leader| leader != not)
    })
}

#[test]
fn tasks_answers_drop_a_dead_nodes_task_and_follow_changes_after_a_leader_change() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = dns_lab();
    lab.cli(&["node", "promote", "n2", "n3"]).unwrap();
    lab.cli(&["network", "create", "--driver", "overlay", "back"])
        .unwrap();
    // db on n1 and n2 (one each), the caller on n3.
    create(
        &lab,
        "db",
        &[
            "--network",
            "back",
            "--replicas",
            "2",
            "--constraint",
            "node.hostname!=n3",
            "--replicas-max-per-node",
            "1",
        ],
    );
    create(
        &lab,
        "web",
        &["--network", "back", "--constraint", "node.hostname==n3"],
    );
    lab.wait_running("db", 2);
    lab.wait_running("web", 1);
    let web = running_task(&lab, "web");
    let both = eventually("two db tasks running with an address", || {
        let addrs = task_addrs(&lab, "db", "back");
        (addrs.len() == 2).then_some(addrs)
    });
    resolves_to(&lab, &web, "tasks.db", &both);

    // n2 dies: its task leaves the answers (a task that could not be
    // replaced here, as n1 already runs one and n3 is excluded).
    lab.nodes[1].kill();
    let left = eventually("n2's db task no longer running", || {
        let addrs = task_addrs(&lab, "db", "back");
        (addrs.len() == 1).then_some(addrs)
    });
    resolves_to(&lab, &web, "tasks.db", &left);

    // n2 comes back (its task returns), then the leader changes: n1's
    // daemon restarts and another manager leads.
    lab.nodes[1].start().unwrap();
    lab.wait_running("db", 2);
    let back = eventually("both db tasks running again", || {
        let addrs = task_addrs(&lab, "db", "back");
        (addrs.len() == 2).then_some(addrs)
    });
    resolves_to(&lab, &web, "tasks.db", &back);
    assert_eq!(leader_seen_by(&lab.nodes[0], ""), "n1");
    lab.nodes[0].kill();
    leader_seen_by(&lab.nodes[2], "n1");
    lab.nodes[0].start().unwrap();
    // A change made through the new leader reaches the answers.
    lab.cli(&[
        "service",
        "update",
        "-d",
        "--replicas-max-per-node",
        "2",
        "db",
    ])
    .unwrap();
    lab.cli(&["service", "scale", "-d", "db=3"]).unwrap();
    lab.wait_running("db", 3);
    // Tasks may still be replaced after the restart: the answers must
    // match the running tasks as the store has them at that moment.
    eventually("tasks.db to answer the three running db tasks", || {
        let want = task_addrs(&lab, "db", "back");
        let got = nslookup(&lab.nodes, &web, "tasks.db").ok()?;
        (want.len() == 3 && got == want).then_some(())
    });
}
