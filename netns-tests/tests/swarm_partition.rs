//! A manager cut off from the other two (its underlay link down): writes
//! through it fail with the no-quorum message, both before it notices
//! (while it still forwards to the old leader) and after; consistent reads
//! fail the same way while plain reads show its stale view; the majority
//! keeps committing; once healed it catches up.

use std::time::Instant;

use serde_json::Value;
use shoal_netns_tests::swarm_kit::{SwarmNode, eventually, leader_name, leader_of, three_managers};

/// The node whose label the test writes.
const TARGET: &str = "n1";

/// The `part` label of [`TARGET`] as `on` sees it.
fn part_label(on: &SwarmNode) -> Option<String> {
    let out = on.cli(&["node", "inspect", TARGET]).ok()?;
    let view: Value = serde_json::from_str(&out).ok()?;
    view[0]["labels"]["part"].as_str().map(str::to_owned)
}

fn write(on: &SwarmNode, value: &str) -> Result<String, shoal_netns_tests::lab::cmd::CmdError> {
    let label = format!("part={value}");
    on.cli(&["node", "update", "--label-add", &label, TARGET])
}

/// The error a manager cut off from both others gives.
const NO_QUORUM: &str = "no quorum: 1 of 3 managers reachable, 2 needed";

/// Writes `value` through `on`, expecting the no-quorum refusal.
fn refused(on: &SwarmNode, value: &str) {
    let asked = Instant::now();
    let err = match write(on, value) {
        Ok(out) => panic!("a write of {value} through the cut-off manager succeeded: {out}"),
        Err(err) => err.to_string(),
    };
    eprintln!("{value}: refused after {:?}: {err}", asked.elapsed());
    assert!(err.contains(NO_QUORUM), "{err}");
}

fn link(node: &SwarmNode, state: &str) {
    node.lab_node()
        .exec(&["ip", "link", "set", "eth0", state])
        .expect("ip link set");
}

#[test]
fn a_cut_off_manager_refuses_writes_and_catches_up_when_healed() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let started = Instant::now();
    let (_lab, nodes) = three_managers();
    let leader = leader_of(&nodes);
    let cut = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    write(&nodes[leader], "before").expect("write before the cut");
    eventually("the follower to see the first write", || {
        (part_label(&nodes[cut]).as_deref() == Some("before")).then_some(())
    });

    link(&nodes[cut], "down");
    // At once: it still takes the old leader for the leader and forwards
    // the write there, which cannot answer.
    refused(&nodes[cut], "unnoticed");
    // Once it knows it has no leader.
    eventually("the cut-off manager to lose its leader", || {
        let list = nodes[cut].nodes().ok()?;
        leader_name(&list).is_none().then_some(())
    });
    refused(&nodes[cut], "isolated");
    let err = match nodes[cut].cli(&["node", "inspect", "--consistent", TARGET]) {
        Ok(out) => panic!("a consistent read on the cut-off manager succeeded: {out}"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains(NO_QUORUM), "{err}");
    // The majority keeps committing, through the leader and the follower.
    for (i, via) in [leader, other, leader, other].into_iter().enumerate() {
        write(&nodes[via], &format!("majority-{i}")).expect("write through the majority");
    }
    // The leader applied it before acknowledging; the follower catches up.
    assert_eq!(part_label(&nodes[leader]).as_deref(), Some("majority-3"));
    eventually("the majority's follower to see its last write", || {
        (part_label(&nodes[other]).as_deref() == Some("majority-3")).then_some(())
    });
    // Cut off, it still shows what it had (its local, stale view).
    assert_eq!(part_label(&nodes[cut]).as_deref(), Some("before"));
    // A consistent read through the majority's follower sees the last write.
    let out = nodes[other]
        .cli(&["node", "inspect", "--consistent", TARGET])
        .expect("consistent read through the majority");
    let view: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(view[0]["labels"]["part"], "majority-3");

    link(&nodes[cut], "up");
    let healed = Instant::now();
    eventually("the healed manager to catch up", || {
        (part_label(&nodes[cut]).as_deref() == Some("majority-3")).then_some(())
    });
    eprintln!("caught up {:?} after healing", healed.elapsed());
    eventually("a write through the healed manager", || {
        write(&nodes[cut], "healed").ok()
    });
    eventually("the healed manager's write on the others", || {
        (part_label(&nodes[leader]).as_deref() == Some("healed")).then_some(())
    });
    eprintln!("took {:?}", started.elapsed());
}
