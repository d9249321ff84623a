//! A service's own DNS settings on a one-node lab swarm with a real
//! container: `--dns` sends the task's outside names to that resolver (a
//! dnsmasq "world" namespace) instead of the node's (`--dns-upstream`
//! names a namespace that serves no DNS), `--dns-search` and
//! `--dns-option` land in its resolv.conf beside the embedded resolver,
//! and `--add-host` in its /etc/hosts.

use shoal_netns_tests::dns_kit::{
    exec_in_task, nslookup, running_task, start_world_resolver, world_resolver_addr,
};
use shoal_netns_tests::lab::naming::client_addr;
use shoal_netns_tests::services_kit::ServiceLab;
use shoal_netns_tests::swarm_kit::eventually;

#[test]
fn a_tasks_dns_servers_search_domains_options_and_hosts() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let silent = client_addr(2).expect("client 2").to_string();
    let mut lab = ServiceLab::with_daemon_args(1, &["--dns-upstream", &silent]);
    let world = lab.client("world");
    let _silent = lab.client("silent");
    let answer = std::net::Ipv4Addr::new(198, 51, 100, 9);
    start_world_resolver(&world, world.state_dir(), &[(answer, "upstream.example")]);
    let resolver = world_resolver_addr().to_string();
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "app",
        "--dns",
        &resolver,
        "--dns-search",
        "example",
        "--dns-option",
        "timeout:2",
        "--add-host",
        "db.lab:10.9.0.5",
        "web:1",
    ])
    .expect("service create");
    lab.wait_running("app", 1);
    let task = running_task(&lab, "app");
    let files = exec_in_task(
        &lab.nodes,
        &task,
        &["cat", "/etc/resolv.conf", "/etc/hosts"],
    );
    assert!(
        files.contains("search example\nnameserver 127.0.0.11\noptions ndots:0 timeout:2\n"),
        "{files}"
    );
    assert!(files.contains("10.9.0.5\tdb.lab\n"), "{files}");
    let found = eventually("upstream.example through the task's own resolver", || {
        nslookup(&lab.nodes, &task, "upstream.example").ok()
    });
    assert_eq!(found, [answer]);
}
