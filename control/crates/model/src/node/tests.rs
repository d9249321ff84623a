//! Unit tests of the node model. Its JSON is pinned to what the cluster and spec types
//! produced before they were merged into [`crate::node`], so raft store
//! rows, API bodies, the ctl protocol and the scheduler's [`SchedNode`]
//! keep their wire format.

use std::collections::BTreeMap;

use super::*;
use crate::api::NodeView;
use crate::spec::{Resources, SchedNode};

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serializes")
}

fn back<T: for<'de> Deserialize<'de>>(text: &str) -> T {
    serde_json::from_str(text).expect("deserializes")
}

fn record() -> NodeRecord {
    NodeRecord {
        id: "n1".to_owned(),
        raft_id: 7,
        hostname: "host-1".to_owned(),
        role: NodeRole::Manager,
        desired_role: NodeRole::Worker,
        availability: Availability::Drain,
        labels: BTreeMap::from([("zone".to_owned(), "a".to_owned())]),
        addr: "198.18.0.11:2377".to_owned(),
        status: NodeStatus::Unknown,
        engine_version: "0.1.0".to_owned(),
        cert_not_after: 1_700_000_000,
        created_at: 1_600_000_000,
        wireguard: None,
        resources: None,
    }
}

/// The JSON of `record()` as the old `cluster::NodeRecord` wrote it.
const RECORD_JSON: &str = r#"{"id":"n1","raft_id":7,"hostname":"host-1","role":"manager","desired_role":"worker","availability":"drain","labels":{"zone":"a"},"addr":"198.18.0.11:2377","status":"unknown","engine_version":"0.1.0","cert_not_after":1700000000,"created_at":1600000000}"#;

#[test]
fn enums_serialize_as_before() {
    let roles = [
        (NodeRole::Manager, "\"manager\""),
        (NodeRole::Worker, "\"worker\""),
    ];
    for (role, text) in roles {
        assert_eq!(json(&role), text);
        assert_eq!(back::<NodeRole>(text), role);
        assert_eq!(format!("\"{role}\""), text);
        assert_eq!(format!("\"{}\"", role.as_str()), text);
    }
    let availabilities = [
        (Availability::Active, "\"active\""),
        (Availability::Pause, "\"pause\""),
        (Availability::Drain, "\"drain\""),
    ];
    for (availability, text) in availabilities {
        assert_eq!(json(&availability), text);
        assert_eq!(back::<Availability>(text), availability);
        assert_eq!(format!("\"{}\"", availability.as_str()), text);
    }
    let statuses = [
        (NodeStatus::Unknown, "\"unknown\""),
        (NodeStatus::Ready, "\"ready\""),
        (NodeStatus::Down, "\"down\""),
    ];
    for (status, text) in statuses {
        assert_eq!(json(&status), text);
        assert_eq!(back::<NodeStatus>(text), status);
        assert_eq!(format!("\"{}\"", status.as_str()), text);
    }
}

#[test]
fn only_ready_is_ready() {
    assert!(NodeStatus::Ready.is_ready());
    assert!(!NodeStatus::Unknown.is_ready());
    assert!(!NodeStatus::Down.is_ready());
}

#[test]
fn default_availability_is_active() {
    assert_eq!(Availability::default(), Availability::Active);
}

#[test]
fn node_record_serializes_as_before() {
    assert_eq!(json(&record()), RECORD_JSON);
    assert_eq!(back::<NodeRecord>(RECORD_JSON), record());
}

#[test]
fn api_node_view_serializes_as_before() {
    let view = NodeView {
        record: record(),
        manager_status: Some("Leader".to_owned()),
        is_self: true,
    };
    let text = r#"{"id":"n1","raft_id":7,"hostname":"host-1","role":"manager","desired_role":"worker","availability":"drain","labels":{"zone":"a"},"addr":"198.18.0.11:2377","status":"unknown","engine_version":"0.1.0","cert_not_after":1700000000,"created_at":1600000000,"manager_status":"Leader","is_self":true}"#;
    assert_eq!(json(&view), text);
    assert_eq!(back::<NodeView>(text), view);
}

#[test]
fn sched_node_is_the_record_with_unmeasured_resources() {
    let node = SchedNode::from(&record());
    assert_eq!(node.id, "n1");
    assert_eq!(node.hostname, "host-1");
    assert_eq!(node.role, NodeRole::Manager);
    assert_eq!(node.availability, Availability::Drain);
    assert_eq!(node.status, NodeStatus::Unknown);
    assert_eq!(node.labels, record().labels);
    assert_eq!(node.resources, Resources::UNMEASURED);
    assert!(!node.takes_new_tasks());
}

#[test]
fn only_ready_active_nodes_take_new_tasks() {
    let mut node = SchedNode::worker("n1");
    assert!(node.takes_new_tasks());
    for status in [NodeStatus::Unknown, NodeStatus::Down] {
        node.status = status;
        assert!(!node.takes_new_tasks(), "{status:?}");
    }
    node.status = NodeStatus::Ready;
    for availability in [Availability::Pause, Availability::Drain] {
        node.availability = availability;
        assert!(!node.takes_new_tasks(), "{availability:?}");
    }
}

#[test]
fn sched_node_serializes_as_before() {
    let mut node = SchedNode::worker("n2");
    node.role = NodeRole::Manager;
    node.availability = Availability::Pause;
    node.status = NodeStatus::Down;
    node.labels.insert("zone".to_owned(), "b".to_owned());
    node.resources = Resources {
        nano_cpus: 5,
        memory_bytes: 6,
    };
    let text = r#"{"id":"n2","hostname":"n2","role":"manager","availability":"pause","status":"down","labels":{"zone":"b"},"resources":{"nano_cpus":5,"memory_bytes":6}}"#;
    assert_eq!(json(&node), text);
    assert_eq!(back::<SchedNode>(text), node);
}
