//! Learners, chunked snapshots, promotion and demotion.

use std::collections::BTreeSet;

use serde_json::json;

use super::cluster::{TestCluster, fast_raft_config, put};
use crate::MembershipView;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_node_joins_as_learner_by_chunked_snapshot_after_purge_then_votes() {
    let mut config = fast_raft_config();
    config.snapshot_policy = openraft::SnapshotPolicy::LogsSinceLast(20);
    config.max_in_snapshot_log_to_keep = 0;
    config.purge_batch_size = 1;
    config.snapshot_max_chunk_size = 256;
    let mut cluster = TestCluster::three_managers(config).await;

    for i in 0..60 {
        cluster
            .propose(put(
                "tasks",
                &format!("task-{i:03}"),
                json!({"slot": i, "state": "running"}),
            ))
            .await;
    }
    // Every voter has snapshotted and purged its log, so whichever leads
    // cannot feed a newcomer from the log alone.
    for id in 1..=3 {
        cluster
            .eventually("every node to purge its log", || {
                cluster.node(id).metrics().purged
            })
            .await;
    }

    cluster.start(4).await;
    let (empty, mut changes) = cluster.node(4).store().snapshot_and_watch();
    assert!(empty.tables.is_empty());
    cluster.add_learner(4).await;
    for i in [0, 30, 59] {
        cluster
            .wait_value(
                4,
                "tasks",
                &format!("task-{i:03}"),
                &json!({"slot": i, "state": "running"}),
            )
            .await;
    }
    let chunks = cluster.node(4).server().snapshot_chunks_received();
    assert!(
        chunks > 1,
        "the snapshot arrived in {chunks} chunk(s), expected several"
    );
    assert!(cluster.node(4).metrics().snapshot.is_some());
    // Watchers of the newcomer saw the installed snapshot as changes.
    let mut seen = BTreeSet::new();
    while let Ok(applied) = changes.try_recv() {
        seen.extend(applied.changes.iter().map(|c| c.key().to_owned()));
    }
    assert_eq!(seen.len(), 60, "every row arrived as a change");
    cluster
        .wait_membership(&MembershipView {
            voters: BTreeSet::from([1, 2, 3]),
            learners: BTreeSet::from([4]),
        })
        .await;

    cluster.promote(4).await;
    cluster
        .wait_membership(&MembershipView {
            voters: BTreeSet::from([1, 2, 3, 4]),
            learners: BTreeSet::new(),
        })
        .await;
    // The new voter takes part from now on.
    cluster
        .propose(put("tasks", "after-join", json!(true)))
        .await;
    cluster
        .wait_value(4, "tasks", "after-join", &json!(true))
        .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demote_and_promote_change_the_voters() {
    let cluster = TestCluster::three_managers(fast_raft_config()).await;
    let leader = cluster.wait_leader(&[1, 2, 3]).await;
    let follower = (1..=3).find(|id| *id != leader).expect("a follower");

    cluster.demote(follower).await;
    let voters: BTreeSet<u64> = (1..=3).filter(|id| *id != follower).collect();
    cluster
        .wait_membership(&MembershipView {
            voters,
            learners: BTreeSet::from([follower]),
        })
        .await;
    // A learner still replicates.
    cluster.propose(put("t", "while-learner", json!(1))).await;
    cluster
        .wait_value(follower, "t", "while-learner", &json!(1))
        .await;

    cluster.promote(follower).await;
    cluster
        .wait_membership(&MembershipView {
            voters: BTreeSet::from([1, 2, 3]),
            learners: BTreeSet::new(),
        })
        .await;
    cluster.shutdown().await;
}
