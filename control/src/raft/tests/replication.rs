//! Leader election, replication, failover, quorum loss and catch-up.

use serde_json::json;

use super::cluster::{TestCluster, fast_raft_config, is_not_leader, put};
use crate::raft::StoreError;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_managers_elect_a_leader_and_replicate_writes() {
    let cluster = TestCluster::three_managers(fast_raft_config()).await;
    let leader = cluster.wait_leader(&[1, 2, 3]).await;

    let response = cluster
        .node(leader)
        .store()
        .propose(put("services", "web", json!({"replicas": 3})))
        .await
        .expect("propose on leader");
    assert!(response.index > 0);
    for id in 1..=3 {
        cluster
            .wait_value(id, "services", "web", &json!({"replicas": 3}))
            .await;
    }

    let follower = (1..=3).find(|id| *id != leader).expect("a follower");
    let err = cluster
        .node(follower)
        .store()
        .propose(put("services", "db", json!(1)))
        .await
        .expect_err("a follower does not accept writes");
    match err {
        StoreError::NotLeader {
            leader: Some(known),
        } => assert_eq!(known, leader),
        other => panic!("expected NotLeader with the leader, got {other:?}"),
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

    cluster
        .node(new_leader)
        .store()
        .propose(put("t", "after", json!("y")))
        .await
        .expect("the new leader commits with the remaining majority");
    for id in &survivors {
        cluster.wait_value(*id, "t", "before", &json!("x")).await;
        cluster.wait_value(*id, "t", "after", &json!("y")).await;
    }

    // The old leader comes back as a follower and catches up.
    cluster.start(old_leader).await;
    cluster
        .wait_value(old_leader, "t", "after", &json!("y"))
        .await;
    let leader = cluster.wait_leader(&[1, 2, 3]).await;
    assert_ne!(
        leader, old_leader,
        "a restarted node cannot win against a newer term without the log"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_minority_cannot_commit_the_majority_can_and_a_restarted_node_catches_up() {
    let mut cluster = TestCluster::three_managers(fast_raft_config()).await;
    let leader = cluster.wait_leader(&[1, 2, 3]).await;
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let (first, second) = (followers[0], followers[1]);

    // One follower down: the leader and the other follower are a majority.
    cluster.stop(first).await;
    cluster
        .node(leader)
        .store()
        .propose(put("t", "k1", json!(1)))
        .await
        .expect("a majority commits");

    // Both followers down: the leader alone is a minority.
    cluster.stop(second).await;
    let err = cluster
        .node(leader)
        .store()
        .propose(put("t", "k2", json!(2)))
        .await
        .expect_err("a minority cannot commit");
    assert!(
        matches!(err, StoreError::NoQuorum { .. }),
        "expected NoQuorum, got {err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(cluster.node(leader).store().read("t", "k2"), None);

    // The first follower returns: a majority again; it catches up on k1.
    cluster.start(first).await;
    cluster.wait_value(first, "t", "k1", &json!(1)).await;
    cluster.propose(put("t", "k3", json!(3))).await;
    for id in [leader, first] {
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
    assert!(!is_not_leader(&err));
    cluster.shutdown().await;
}
