//! Nodes report their capacity and reservations are scheduled against it,
//! on a two-node lab swarm with real containers: each node's CPUs and
//! memory show in `node inspect`; a service reserving three quarters of a
//! node's CPUs per task runs one task per node and leaves the third
//! pending with Docker's "insufficient resources" message.

use serde_json::Value;
use shoal_netns_tests::services_kit::ServiceLab;
use shoal_netns_tests::swarm_kit::eventually;

#[test]
fn reservations_keep_tasks_off_nodes_without_room() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(2);
    let cpus = std::thread::available_parallelism().map_or(1, usize::from) as u64;
    let node: Value = eventually("n2's reported capacity", || {
        let text = lab.cli(&["node", "inspect", "n2"]).ok()?;
        let nodes: Value = serde_json::from_str(&text).ok()?;
        let node = nodes.get(0).cloned().unwrap_or(nodes);
        node["resources"].is_object().then_some(node)
    });
    assert_eq!(
        node["resources"]["nano_cpus"],
        cpus * 1_000_000_000,
        "{node}"
    );
    assert!(
        node["resources"]["memory_bytes"].as_u64().unwrap_or(0) > 0,
        "{node}"
    );

    let reserve = format!("{}", cpus as f64 * 0.75);
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "big",
        "--replicas",
        "3",
        "--reserve-cpu",
        &reserve,
        "web:1",
    ])
    .expect("service create");
    let per_node = lab.wait_running("big", 2);
    assert_eq!(
        per_node.values().copied().collect::<Vec<_>>(),
        [1, 1],
        "one per node"
    );
    let pending = eventually("the third task pending for lack of room", || {
        lab.tasks("big").into_iter().find(|t| {
            t["status"]["state"] == "pending"
                && t.to_string().contains("insufficient resources on 2 nodes")
        })
    });
    assert!(pending["node_id"].is_null(), "{pending}");
}
