//! Leader election, replication, failover, quorum loss and catch-up.
//!
//! Tests run on loaded machines, so leadership may move at any time: writes
//! go through [`TestCluster::propose`], which follows the leader, and only
//! the properties under test are asserted.

use serde_json::json;

use super::cluster::{PATIENCE, TestCluster, fast_raft_config, put};
use crate::StoreError;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_managers_elect_a_leader_and_replicate_writes() {
    let cluster = TestCluster::three_managers(fast_raft_config()).await;
    cluster.wait_leader(&[1, 2, 3]).await;

    let response = cluster
        .propose(put("services", "web", json!({"replicas": 3})))
        .await;
    assert!(response.index > 0);
    for id in 1..=3 {
        cluster
            .wait_value(id, "services", "web", &json!({"replicas": 3}))
            .await;
    }

    // A follower refuses writes and names the leader. (Should leadership
    // move in between, the refusal may name nobody yet, or the node may have
    // become the leader: then try again.)
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let leader = cluster.wait_leader(&[1, 2, 3]).await;
        let follower = (1..=3).find(|id| *id != leader).expect("a follower");
        let result = cluster
            .node(follower)
            .store()
            .propose(put("services", "db", json!(1)))
            .await;
        match result {
            Err(StoreError::NotLeader {
                leader: Some(named),
            }) => {
                assert_ne!(named, follower);
                break;
            }
            Err(StoreError::NotLeader { leader: None }) | Ok(_) => {}
            Err(other) => panic!("expected NotLeader, got {other:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no follower refused"
        );
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_elects_another_and_writes_continue() {
    let mut cluster = TestCluster::three_managers(fast_raft_config()).await;
    let old_leader = cluster.wait_leader(&[1, 2, 3]).await;
    cluster.propose(put("t", "before", json!("x"))).await;

    cluster.stop(old_leader).await;
    let survivors: Vec<u64> = (1..=3).filter(|id| *id != old_leader).collect();
    let new_leader = cluster.wait_leader(&survivors).await;
    assert_ne!(new_leader, old_leader);

    // The remaining majority commits.
    cluster.propose(put("t", "after", json!("y"))).await;
    for id in &survivors {
        cluster.wait_value(*id, "t", "before", &json!("x")).await;
        cluster.wait_value(*id, "t", "after", &json!("y")).await;
    }

    // The old leader comes back and catches up.
    cluster.start(old_leader).await;
    cluster
        .wait_value(old_leader, "t", "after", &json!("y"))
        .await;
    cluster.wait_leader(&[1, 2, 3]).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_minority_cannot_commit_the_majority_can_and_a_restarted_node_catches_up() {
    let mut cluster = TestCluster::three_managers(fast_raft_config()).await;
    let leader = cluster.wait_leader(&[1, 2, 3]).await;
    let first = (1..=3).find(|id| *id != leader).expect("a follower");

    // One node down: the other two are a majority.
    cluster.stop(first).await;
    cluster.propose(put("t", "k1", json!(1))).await;

    // Two nodes down: the one left is a minority, whatever its role.
    let pair = cluster.running();
    let alone = cluster.wait_leader(&pair).await;
    let second = pair
        .into_iter()
        .find(|id| *id != alone)
        .expect("the other node");
    cluster.stop(second).await;
    let was_leader = cluster.node(alone).metrics().state == openraft::ServerState::Leader;
    let err = cluster
        .node(alone)
        .store()
        .propose(put("t", "k2", json!(2)))
        .await
        .expect_err("a minority cannot commit");
    assert!(err.is_retryable(), "{err:?}");
    if was_leader {
        assert!(
            matches!(err, StoreError::NoQuorum { .. }),
            "a leader without quorum reports NoQuorum, got {err:?}"
        );
    } else {
        assert!(matches!(err, StoreError::NotLeader { .. }), "{err:?}");
    }
    assert_eq!(cluster.node(alone).store().read("t", "k2"), None);

    // The first node returns: a majority again; it catches up on k1.
    cluster.start(first).await;
    cluster.wait_value(first, "t", "k1", &json!(1)).await;
    cluster.propose(put("t", "k3", json!(3))).await;
    for id in [alone, first] {
        cluster.wait_value(id, "t", "k3", &json!(3)).await;
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_single_manager_keeps_its_data_and_leads_again() {
    let mut cluster = TestCluster::new(fast_raft_config());
    cluster.start(1).await;
    cluster.node(1).initialize().await.expect("initialize");
    cluster.wait_leader(&[1]).await;
    cluster.propose(put("t", "kept", json!({"n": 1}))).await;

    cluster.stop(1).await;
    cluster.start(1).await;
    assert_eq!(
        cluster.node(1).store().read("t", "kept"),
        Some(json!({"n": 1}))
    );
    cluster.wait_leader(&[1]).await;
    cluster.propose(put("t", "new", json!(2))).await;
    let err = cluster
        .node(1)
        .initialize()
        .await
        .expect_err("initialising twice is refused");
    assert!(matches!(err, StoreError::Initialize { .. }), "{err:?}");
    cluster.shutdown().await;
}
