//! Rotating the encrypted networks' key under traffic: on request
//! (`network update --rotate-keys`) and on the swarm's schedule (`swarm
//! update --key-rotation`), with requests crossing the encrypted network
//! the whole time and none failing, and nothing of it readable on the
//! underlay. (That a handshake with the old key no longer completes
//! afterwards is shown with real boringtun sessions in
//! `dataplane/src/wg/session_tests.rs`.)
#![expect(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use shoal_netns_tests::overlay_kit::Capture;
use shoal_netns_tests::overlay_kit::encrypted::{
    Background, MARKER, TCP_PORT, UDP_PORT, addr_on, encrypted_lab, file_contains,
    marker_round_trips, netns, spawn_in, start_echo_servers, the_task, wg_peers,
};
use shoal_netns_tests::services_kit::ServiceLab;
use shoal_netns_tests::swarm_kit::eventually;

/// The key generation each node's session with the other uses now, and
/// whether either is still rotating (a switch pending, or the previous
/// session kept).
fn generations(lab: &ServiceLab) -> Option<([u64; 2], bool)> {
    let mut generations = [0; 2];
    let mut rotating = false;
    for (index, generation) in generations.iter_mut().enumerate() {
        let peers = wg_peers(lab, index)?;
        let [peer] = peers.as_slice() else {
            return None;
        };
        if !peer["last_handshake_secs"].is_u64() {
            return None;
        }
        *generation = peer["psk_generation"].as_u64()?;
        rotating |= peer["rotating"] != Value::Bool(false);
    }
    Some((generations, rotating))
}

/// The key generation both nodes' sessions with each other use, once
/// neither is rotating any more.
fn settled_generation(lab: &ServiceLab) -> Option<u64> {
    match generations(lab)? {
        ([a, b], false) if a == b => Some(a),
        _ => None,
    }
}

/// A loop in cli's namespace sending the marker to srv over TCP and UDP,
/// each answer checked, until `stop` exists; then it writes "OK FAILED"
/// to `result`.
fn request_loop(cli_ns: &str, to: std::net::Ipv4Addr, stop: &Path, result: &Path) -> Background {
    let (stop, result) = (stop.display(), result.display());
    let script = format!(
        "ok=0; failed=0
         while [ ! -e {stop} ]; do
           for target in TCP:{to}:{TCP_PORT} UDP:{to}:{UDP_PORT}; do
             if echo {MARKER} | socat -T2 - $target 2>/dev/null | grep -q {MARKER}; then
               ok=$((ok+1)); else failed=$((failed+1)); fi
           done
         done
         echo \"$ok $failed\" > {result}.tmp && mv {result}.tmp {result}"
    );
    Background(vec![spawn_in(cli_ns, &script)])
}

/// Stops the loop and reads its counts: (answered, failed).
fn stop_loop(stop: &Path, result: &Path, traffic: Background) -> (u64, u64) {
    std::fs::write(stop, b"").unwrap();
    let counts = eventually("the request loop's counts", || {
        let text = std::fs::read_to_string(result).ok()?;
        let mut words = text.split_whitespace().map(|w| w.parse::<u64>().ok());
        Some((words.next()??, words.next()??))
    });
    drop(traffic);
    counts
}

#[test]
fn rotations_on_request_and_on_schedule_fail_no_request() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = encrypted_lab();
    let (cli, srv) = (the_task(&lab, "cli"), the_task(&lab, "srv"));
    let (cli_ns, srv_ns) = (netns(&cli), netns(&srv));
    let _servers = start_echo_servers(&srv_ns);
    let to = addr_on(&srv, "secure");
    eventually("the marker crossing the encrypted network", || {
        marker_round_trips(&cli_ns, to).then_some(())
    });
    let first = eventually("both nodes on the swarm's first key", || {
        settled_generation(&lab)
    });
    assert_eq!(first, 1);

    let n1 = lab.nodes[0].lab_node().clone();
    let pcap = n1.state_dir().join("rotation.pcap");
    let capture = Capture::start(n1.name(), "eth0", "udp", &pcap).unwrap();
    let (stop, result) = (n1.state_dir().join("stop"), n1.state_dir().join("counts"));
    let traffic = request_loop(&cli_ns, to, &stop, &result);
    std::thread::sleep(Duration::from_secs(2));

    // On request.
    let out = lab
        .cli(&[
            "network",
            "update",
            "--rotate-keys",
            "--format",
            "json",
            "secure",
        ])
        .unwrap();
    let rotation: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rotation["generation"], 2, "{out}");
    eventually("both nodes' sessions on generation 2", || {
        (settled_generation(&lab) == Some(2)).then_some(())
    });
    let err = lab.cli(&["network", "update", "--rotate-keys", "plain"]);
    assert!(
        err.is_err_and(|e| e.to_string().contains("not encrypted")),
        "a clear network has no keys to rotate"
    );

    // On the swarm's schedule, counted from the current key's creation
    // (a rotation every 20 s: the next may come before the last one's
    // grace ends, so only the generation in use is watched here).
    lab.cli(&["swarm", "update", "--key-rotation", "20s"])
        .unwrap();
    eventually("a scheduled rotation in use on both nodes", || {
        let ([a, b], _) = generations(&lab)?;
        (a >= 3 && b >= 3).then_some(())
    });
    lab.cli(&["swarm", "update", "--key-rotation", "12h"])
        .unwrap();
    let settled = eventually("the rotations settled", || settled_generation(&lab));

    let (answered, failed) = stop_loop(&stop, &result, traffic);
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed across the rotations to generation {settled}",
        answered + failed
    );
    assert!(answered > 20, "only {answered} requests were made");
    let pcap = capture.stop().unwrap();
    assert!(
        !file_contains(&pcap, MARKER),
        "the marker was readable on the underlay during a rotation"
    );
}
