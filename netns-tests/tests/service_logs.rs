//! `service logs --follow` on a two-node lab swarm (n1 manager, n2
//! worker): a follower started with `--tail 0` prints nothing old, then
//! the lines each node's task writes after it started, streamed from both
//! nodes through the manager, then the lines of a task placed later by a
//! scale-up, and keeps running.
//!
//! ```text
//!   shoal service logs -f --tail 0 ticker ──unix socket──► n1 (manager)
//!                                                           ├─ TaskLogs(after cursor) → n1's task
//!                                                           └─ TaskLogs(after cursor) → n2's task (ctl RPC)
//! ```

use std::collections::BTreeMap;

use shoal_netns_tests::docker_kit::{docker_clients, docker_output};
use shoal_netns_tests::services_kit::ServiceLab;
use shoal_netns_tests::swarm_kit::eventually;

/// The highest `tick N` per node in `service logs` output
/// (`ticker.1.<task>@n1    | tick 7`).
fn last_ticks(output: &str) -> BTreeMap<String, u64> {
    let mut ticks = BTreeMap::new();
    for line in output.lines() {
        let Some((prefix, text)) = line.split_once("| ") else {
            continue;
        };
        let node = prefix.trim().rsplit('@').next().unwrap_or("").to_owned();
        if let Some(n) = text
            .trim()
            .strip_prefix("tick ")
            .and_then(|n| n.parse::<u64>().ok())
        {
            let last = ticks.entry(node).or_insert(0);
            *last = n.max(*last);
        }
    }
    ticks
}

#[test]
fn a_follower_streams_the_lines_every_node_writes_after_it_started() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(2);
    lab.create_ticker();
    let before = eventually("a tick from each node's task", || {
        let ticks = last_ticks(&lab.cli(&["service", "logs", "ticker"]).ok()?);
        (ticks.len() == 2).then_some(ticks)
    });

    let manager = lab.manager();
    let host = format!("unix://{}", manager.socket().display());
    let follower = manager
        .lab_node()
        .spawn_shoal(&[
            "service", "-H", &host, "logs", "--follow", "--tail", "0", "ticker",
        ])
        .unwrap();
    // Nothing written before the follower started can reach it (`--tail
    // 0`, and its cursors start at each file's end): every tick it prints
    // was written later, and only a stream delivers it.
    let seen = eventually("new ticks from both nodes in the follower's output", || {
        let output = std::fs::read_to_string(&follower.log).ok()?;
        let ticks = last_ticks(&output);
        let both = ["n1", "n2"]
            .iter()
            .all(|node| ticks.get(*node).is_some_and(|n| *n > before[*node]));
        both.then_some(output)
    });
    assert!(
        !seen.contains("error"),
        "the follower reported an error: {seen}"
    );
    // A task placed after the follow began is followed too, from its
    // first line.
    lab.cli(&["service", "scale", "-d", "ticker=3"]).unwrap();
    eventually("the new task's first line in the follower's output", || {
        let output = std::fs::read_to_string(&follower.log).ok()?;
        output
            .lines()
            .any(|line| line.starts_with("ticker.3.") && line.ends_with("| tick 1"))
            .then_some(())
    });
    let status = std::fs::read_to_string(format!("/proc/{}/stat", follower.pid)).unwrap();
    let state = status.rsplit(')').next().unwrap().split_whitespace().next();
    assert_ne!(state, Some("Z"), "the follower keeps running: {seen}");
}

#[test]
fn the_output_of_failed_tasks_stays_readable_after_their_containers_go() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(1);
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "bad",
        "--restart-delay",
        "1s",
        "--restart-max-attempts",
        "2",
        "web:1",
        "sh",
        "-c",
        "echo about-to-fail from $HOSTNAME; exit 3",
    ])
    .unwrap();
    // Each failed task's container is deleted once it leaves the node's
    // assignment; its output must still be there.
    let logs = eventually("the output of three failed tasks", || {
        let failed = lab
            .tasks("bad")
            .iter()
            .filter(|t| t["status"]["state"] == "failed")
            .count();
        let logs = lab.cli(&["service", "logs", "bad"]).ok()?;
        let mut hosts: Vec<&str> = logs
            .lines()
            .filter_map(|l| l.split_once("about-to-fail from "))
            .map(|(_, host)| host.trim())
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        (failed == 3 && hosts.len() == 3).then_some(logs)
    });
    assert!(!logs.contains("no such container"), "{logs}");
}

/// `(time, text)` of each line of `service logs --timestamps` output
/// (`<time> talk.1.<task>@n1    | <text>`).
fn stamped(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|line| {
            let (time, rest) = line.split_once(' ')?;
            let (_, text) = rest.split_once("| ")?;
            Some((time.to_owned(), text.trim().to_owned()))
        })
        .collect()
}

#[test]
fn lines_carry_when_and_where_they_were_written_and_since_keeps_the_later_ones() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(1);
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "talk",
        "web:1",
        "sh",
        "-c",
        "echo first; echo oops >&2; sleep 1; echo later; exec sleep 1000",
    ])
    .unwrap();
    let lines = eventually("three stamped lines", || {
        let lines = stamped(&lab.cli(&["service", "logs", "--timestamps", "talk"]).ok()?);
        (lines.len() == 3).then_some(lines)
    });
    let texts: Vec<&str> = lines.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(texts, ["first", "oops", "later"], "{lines:?}");
    for (time, _) in &lines {
        // RFC 3339, UTC, nanoseconds: 2026-12-07T20:00:00.123456789Z.
        assert!(
            time.len() == 30 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "{time}"
        );
    }
    let (first, later) = (&lines[0].0, &lines[2].0);
    assert!(first < later, "a second apart: {first} then {later}");

    let since = |time: &str| {
        lab.cli(&["service", "logs", "--since", time, "talk"])
            .unwrap()
    };
    let all = since(first);
    assert!(all.contains("first") && all.contains("later"), "{all}");
    let after = since(later);
    assert!(
        after.contains("| later") && !after.contains("first") && !after.contains("oops"),
        "{after}"
    );

    // Docker's client: stderr lines on stderr, times and --since honoured.
    for client in docker_clients() {
        let out = docker_output(&client, lab.manager(), &["service", "logs", "talk"]).unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{stderr}");
        assert!(
            stdout.contains("| first") && stdout.contains("| later") && !stdout.contains("oops"),
            "{stdout}"
        );
        assert!(stderr.contains("| oops"), "{stderr}");
        let args = [
            "service",
            "logs",
            "--timestamps",
            "--since",
            later.as_str(),
            "talk",
        ];
        let out = docker_output(&client, lab.manager(), &args).unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stamped(&stdout),
            [(later.clone(), "later".to_owned())],
            "{stdout}"
        );
    }
}
