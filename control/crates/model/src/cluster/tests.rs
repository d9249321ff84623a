//! Unit tests of the cluster rules.

use std::collections::BTreeMap;

use super::*;

fn node(id: &str, role: NodeRole, status: NodeStatus) -> NodeRecord {
    NodeRecord {
        id: id.to_owned(),
        raft_id: id.len() as u64,
        hostname: format!("host-{id}"),
        role,
        desired_role: role,
        availability: Availability::Active,
        labels: BTreeMap::new(),
        addr: "198.18.0.11:2377".to_owned(),
        status,
        engine_version: "0.1.0".to_owned(),
        cert_not_after: 0,
        created_at: 0,
        wireguard: None,
        resources: None,
    }
}

fn table(nodes: &[NodeRecord]) -> BTreeMap<String, NodeRecord> {
    nodes.iter().map(|n| (n.id.clone(), n.clone())).collect()
}

#[test]
fn node_references_resolve_by_id_name_then_unique_prefix() {
    let nodes = table(&[
        node("abc1", NodeRole::Manager, NodeStatus::Ready),
        node("abd2", NodeRole::Worker, NodeStatus::Ready),
    ]);
    assert_eq!(
        resolve_node(&nodes, "abc1").map(|n| &n.id),
        Ok(&"abc1".into())
    );
    assert_eq!(
        resolve_node(&nodes, "host-abd2").map(|n| &n.id),
        Ok(&"abd2".into())
    );
    assert_eq!(
        resolve_node(&nodes, "abd").map(|n| &n.id),
        Ok(&"abd2".into())
    );
    assert_eq!(
        resolve_node(&nodes, "ab").err(),
        Some(ClusterError::AmbiguousNode {
            query: "ab".into(),
            matches: 2
        })
    );
    assert!(matches!(
        resolve_node(&nodes, "zz"),
        Err(ClusterError::NodeNotFound { .. })
    ));
    assert!(resolve_node(&nodes, "").is_err());
}

#[test]
fn updates_apply_whole_or_not_at_all() {
    let before = node("a", NodeRole::Worker, NodeStatus::Ready);
    let update = NodeUpdate {
        availability: Some("drain".into()),
        labels: vec![
            LabelChange::Add("zone=b".into()),
            LabelChange::Add("ssd".into()),
            LabelChange::Remove("missing".into()),
        ],
    };
    let after = apply_update(&before, &update).expect("valid update");
    assert_eq!(after.availability, Availability::Drain);
    assert_eq!(after.labels.get("zone").map(String::as_str), Some("b"));
    assert_eq!(after.labels.get("ssd").map(String::as_str), Some(""));
    let removed = apply_update(
        &after,
        &NodeUpdate {
            availability: None,
            labels: vec![LabelChange::Remove("zone".into())],
        },
    )
    .expect("valid");
    assert!(!removed.labels.contains_key("zone"));

    let bad = NodeUpdate {
        availability: Some("sleep".into()),
        labels: vec![],
    };
    assert!(matches!(
        apply_update(&before, &bad),
        Err(ClusterError::InvalidAvailability { .. })
    ));
    let bad_label = NodeUpdate {
        availability: Some("pause".into()),
        labels: vec![LabelChange::Add("=v".into())],
    };
    assert!(matches!(
        apply_update(&before, &bad_label),
        Err(ClusterError::InvalidLabel { .. })
    ));
}

#[test]
fn the_last_manager_cannot_be_demoted_and_quorum_is_kept() {
    let m1 = node("m1", NodeRole::Manager, NodeStatus::Ready);
    let w1 = node("w1", NodeRole::Worker, NodeStatus::Ready);
    assert_eq!(
        check_demote(&table(&[m1.clone(), w1.clone()]), &m1),
        Err(ClusterError::LastManager)
    );
    let m2 = node("m2", NodeRole::Manager, NodeStatus::Ready);
    let m3 = node("m3", NodeRole::Manager, NodeStatus::Down);
    // Demoting m1 leaves m2 (up) and m3 (down): 1 of 2 reachable, 2 needed.
    assert!(matches!(
        check_demote(&table(&[m1.clone(), m2.clone(), m3.clone()]), &m1),
        Err(ClusterError::WouldLoseQuorum {
            reachable_after: 1,
            total_after: 2,
            needed: 2
        })
    ));
    // Demoting the down one is fine: m1 and m2 remain.
    assert_eq!(check_demote(&table(&[m1, m2, m3.clone()]), &m3), Ok(()));
}

#[test]
fn a_manager_leaving_needs_force_when_it_breaks_quorum() {
    let m1 = node("m1", NodeRole::Manager, NodeStatus::Ready);
    let m2 = node("m2", NodeRole::Manager, NodeStatus::Ready);
    let m3 = node("m3", NodeRole::Manager, NodeStatus::Ready);
    let w = node("w", NodeRole::Worker, NodeStatus::Ready);
    assert_eq!(check_leave(&table(&[m1.clone(), w.clone()]), &w), Ok(()));
    assert!(matches!(
        check_leave(&table(std::slice::from_ref(&m1)), &m1),
        Err(ClusterError::ManagerLeave { .. })
    ));
    assert!(check_leave(&table(&[m1.clone(), m2.clone()]), &m1).is_err());
    assert_eq!(check_leave(&table(&[m1.clone(), m2, m3]), &m1), Ok(()));
}

#[test]
fn manager_status_names_the_leader() {
    let m1 = node("m1", NodeRole::Manager, NodeStatus::Ready);
    let m3 = node("m33", NodeRole::Manager, NodeStatus::Down);
    let w = node("w", NodeRole::Worker, NodeStatus::Ready);
    assert_eq!(manager_status(&m1, Some(m1.raft_id)), Some("Leader"));
    assert_eq!(manager_status(&m1, Some(99)), Some("Reachable"));
    assert_eq!(manager_status(&m3, Some(m1.raft_id)), Some("Unreachable"));
    assert_eq!(manager_status(&w, Some(1)), None);
    assert_eq!(quorum(1), 1);
    assert_eq!(quorum(3), 2);
    assert_eq!(quorum(4), 3);
}
