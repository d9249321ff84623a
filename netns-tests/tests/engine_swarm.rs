//! `docker swarm …` against shoal's sockets with the stock `docker`
//! client: init, join-token (and its rotation: the old token no longer
//! admits anyone), join, a settings change refused by name, leave.
//!
//! ```text
//!   n1 ◄── docker -H n1 swarm init / join-token      n2, n3 ◄── docker -H nX swarm join
//! ```

use shoal_netns_tests::docker_kit::{docker, docker_clients};
use shoal_netns_tests::swarm_kit::{all_ready, swarm_lab};

#[test]
fn docker_swarm_init_join_token_rotation_join_and_leave() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, nodes) = swarm_lab(3);
    let client = &docker_clients()[0];
    let addr = nodes[0].lab_node().addr().to_string();

    let out = docker(
        client,
        &nodes[0],
        &["swarm", "init", "--advertise-addr", &addr],
    )
    .unwrap_or_else(|e| panic!("docker swarm init: {e}"));
    assert!(out.contains("Swarm initialized: current node ("), "{out}");
    let at = format!("{addr}:2377");
    assert!(out.contains("docker swarm join --token SWMTKN-1-"), "{out}");
    assert!(
        out.contains(&at),
        "the join command names the manager: {out}"
    );
    let token = docker(client, &nodes[0], &["swarm", "join-token", "-q", "worker"])
        .unwrap_or_else(|e| panic!("docker swarm join-token: {e}"));
    assert!(out.contains(&token), "the same worker token: {out}");

    let joined = docker(
        client,
        &nodes[1],
        &["swarm", "join", "--token", &token, &at],
    )
    .unwrap_or_else(|e| panic!("docker swarm join: {e}"));
    assert_eq!(joined, "This node joined a swarm as a worker.");
    all_ready(&nodes[0], 2);

    let rotated = docker(
        client,
        &nodes[0],
        &["swarm", "join-token", "--rotate", "-q", "worker"],
    )
    .unwrap_or_else(|e| panic!("docker swarm join-token --rotate: {e}"));
    assert!(
        rotated.starts_with("SWMTKN-1-") && rotated != token,
        "{rotated}"
    );
    let refused = docker(
        client,
        &nodes[2],
        &["swarm", "join", "--token", &token, &at],
    )
    .expect_err("the rotated-out token admits no one");
    assert!(!refused.is_empty());
    docker(
        client,
        &nodes[2],
        &["swarm", "join", "--token", &rotated, &at],
    )
    .unwrap_or_else(|e| panic!("join with the new token: {e}"));
    all_ready(&nodes[0], 3);

    // Autolock is a setting shoal changes: Docker's client prints the key.
    let autolock = docker(client, &nodes[0], &["swarm", "update", "--autolock=true"])
        .unwrap_or_else(|e| panic!("docker swarm update --autolock: {e}"));
    let key = autolock
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("SWMKEY-1-"))
        .unwrap_or_else(|| panic!("no unlock key printed: {autolock}"));
    let shown = docker(client, &nodes[0], &["swarm", "unlock-key", "-q"])
        .unwrap_or_else(|e| panic!("docker swarm unlock-key: {e}"));
    assert_eq!(shown, key);
    // One it does not is refused naming the field.
    let history = docker(
        client,
        &nodes[0],
        &["swarm", "update", "--task-history-limit", "2"],
    )
    .expect_err("the task history limit is not a setting shoal changes");
    assert!(
        history.contains("Orchestration.TaskHistoryRetentionLimit"),
        "the refusal names the field: {history}"
    );
    let left = docker(client, &nodes[2], &["swarm", "leave"])
        .unwrap_or_else(|e| panic!("docker swarm leave: {e}"));
    assert_eq!(left, "Node left the swarm.");
    let info = docker(
        client,
        &nodes[2],
        &["info", "--format", "{{.Swarm.LocalNodeState}}"],
    )
    .unwrap_or_else(|e| panic!("docker info: {e}"));
    assert_eq!(info, "inactive");
}
