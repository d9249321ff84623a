//! Demoting the raft leader itself, from another manager: the remaining
//! managers elect a new leader, the old one turns into a worker, writes
//! go on; demoting the next leader too leaves one manager, which cannot
//! be demoted.

use serde_json::Value;
use shoal_netns_tests::lab::cmd::CmdError;
use shoal_netns_tests::swarm_kit::{
    SwarmNode, eventually, field, leader_name, leader_of, three_managers,
};

/// `node` as `on` lists it.
fn row(list: &[Value], node: &str) -> Option<Value> {
    list.iter().find(|n| field(n, "hostname") == node).cloned()
}

/// Demotes the current leader through `via` and waits until `via` sees
/// another leader and the old one as a ready worker without a manager
/// status. Returns the new leader's name.
fn demote_leader(via: &SwarmNode, leader: &str) -> String {
    // The leader demoting itself steps down mid-call; a caller that finds
    // no leader during the election that follows is told to try again,
    // and does (demoting a worker again is a no-op).
    let out = eventually(&format!("{leader} demoted"), || {
        match via.cli(&["node", "demote", leader]) {
            Ok(out) => Some(out),
            Err(CmdError::Failed { stderr, .. }) if stderr.contains("try again") => None,
            Err(err) => panic!("demote the leader: {err}"),
        }
    });
    assert!(out.contains("demoted"), "{out}");
    eventually(&format!("a leader other than {leader}"), || {
        let list = via.nodes().ok()?;
        let new = leader_name(&list).filter(|new| new != leader)?;
        let old = row(&list, leader)?;
        (field(&old, "role") == "worker"
            && field(&old, "manager_status").is_empty()
            && field(&old, "status") == "ready")
            .then_some(new)
    })
}

/// The label `k` of `node`, read consistently through `on`.
fn label(on: &SwarmNode, node: &str, k: &str) -> Option<String> {
    let out = on.cli(&["node", "inspect", "--consistent", node]).ok()?;
    let view: Value = serde_json::from_str(&out).ok()?;
    view[0]["labels"][k].as_str().map(str::to_owned)
}

#[test]
fn demoting_the_leader_elects_another_and_writes_go_on() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (_lab, nodes) = three_managers();
    let first = leader_of(&nodes);
    let via = &nodes[(first + 1) % 3];
    let old = nodes[first].name.clone();

    let second = demote_leader(via, &old);
    eprintln!("{old} demoted, {second} leads");
    let list = via.nodes().expect("node ls");
    let managers: Vec<&str> = list
        .iter()
        .filter(|n| field(n, "role") == "manager")
        .map(|n| field(n, "hostname"))
        .collect();
    assert_eq!(managers.len(), 2, "{list:?}");
    assert!(managers.contains(&second.as_str()), "{list:?}");
    // The old leader no longer speaks for the swarm.
    eventually(&format!("{old} to refuse manager calls"), || {
        nodes[first]
            .cli(&["node", "ls"])
            .err()
            .map(|e| e.to_string())
            .filter(|e| e.contains("not a swarm manager"))
    });
    // Writes go on, through either remaining manager.
    for node in nodes.iter().filter(|n| n.name != old) {
        let value = format!("after-demote={}", node.name);
        node.cli(&["node", "update", "--label-add", &value, &old])
            .expect("write after demoting the leader");
    }
    let last_writer = nodes
        .iter()
        .rev()
        .find(|n| n.name != old)
        .expect("a manager");
    for node in nodes.iter().filter(|n| n.name != old) {
        assert_eq!(
            label(node, &old, "after-demote").as_deref(),
            Some(last_writer.name.as_str())
        );
    }

    // Demote the new leader too: one manager is left, and it stays.
    let third = nodes
        .iter()
        .find(|n| n.name != old && n.name != second)
        .expect("the third manager");
    let last = demote_leader(third, &second);
    assert_eq!(last, third.name);
    third
        .cli(&["node", "update", "--label-add", "alone=yes", &old])
        .expect("write on the last manager");
    let err = third.cli_err(&["node", "demote", &third.name]);
    assert!(err.contains("last manager"), "{err}");
}
