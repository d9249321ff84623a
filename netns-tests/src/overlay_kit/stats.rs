//! Reading a lab node's data-plane counters through `shoal dp stats`.

use serde_json::Value;

use crate::lab::Node;

/// Counter `name` of `shoal dp stats --format json` on `node`, in packets;
/// panics if the node has no such counter.
pub fn dp_counter(node: &Node, name: &str) -> u64 {
    let out = node
        .shoal(&["dp", "stats", "--format", "json"])
        .expect("shoal dp stats");
    let json: Value = serde_json::from_str(&out).expect("dp stats JSON");
    json["rows"]
        .as_array()
        .expect("dp stats rows")
        .iter()
        .find(|r| r["counter"] == name)
        .and_then(|r| r["packets"].as_u64())
        .unwrap_or_else(|| panic!("no counter {name} in dp stats"))
}
