//! Learners, chunked snapshots, promotion and demotion.

use std::collections::BTreeSet;

use serde_json::json;

use super::cluster::{TestCluster, fast_raft_config, put};
use crate::raft::MembershipView;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_node_joins_as_learner_by_chunked_snapshot_after_purge_then_votes() {
    let mut config = fast_raft_config();
    config.snapshot_policy = openraft::SnapshotPolicy::LogsSinceLast(20);
    config.max_in_snapshot_log_to_keep = 0;
    config.purge_batch_size = 1;
    config.snapshot_max_chunk_size = 256;
    let mut cluster = TestCluster::three_managers(config).await;
    let leader = cluster.wait_leader(&[1, 2, 3]).await;

    for i in 0..60 {
        cluster
            .propose(put(
                "tasks",
                &format!("task-{i:03}"),
                json!({"slot": i, "state": "running"}),
            ))
            .await;
    }
    // The leader has snapshotted and purged its log: a newcomer cannot be
    // fed from the log alone.
    let purged = cluster
        .eventually("the leader to purge its log", || {
            cluster.node(leader).metrics().purged
        })
        .await;
    assert!(purged.index > 0);

    cluster.start(4).await;
    let (empty, mut changes) = cluster.node(4).store().snapshot_and_watch();
    assert!(empty.tables.is_empty());
    let addr = cluster.node(4).addr().to_string();
    cluster
        .node(leader)
        .add_learner(4, addr)
        .await
        .expect("add learner");
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
    assert_eq!(
        cluster.node(leader).membership().learners,
        BTreeSet::from([4])
    );

    cluster.node(leader).promote(4).await.expect("promote");
    assert_eq!(
        cluster.node(leader).membership(),
        MembershipView {
            voters: BTreeSet::from([1, 2, 3, 4]),
            learners: BTreeSet::new(),
        }
    );
    // The new voter takes part in commits from now on.
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

    cluster.node(leader).demote(follower).await.expect("demote");
    let voters: BTreeSet<u64> = (1..=3).filter(|id| *id != follower).collect();
    assert_eq!(
        cluster.node(leader).membership(),
        MembershipView {
            voters: voters.clone(),
            learners: BTreeSet::from([follower]),
        }
    );
    // A learner still replicates.
    cluster.propose(put("t", "while-learner", json!(1))).await;
    cluster
        .wait_value(follower, "t", "while-learner", &json!(1))
        .await;

    cluster
        .node(leader)
        .promote(follower)
        .await
        .expect("promote");
    assert_eq!(
        cluster.node(leader).membership(),
        MembershipView {
            voters: BTreeSet::from([1, 2, 3]),
            learners: BTreeSet::new(),
        }
    );
    // Every node applies the final membership.
    for id in 1..=3 {
        cluster
            .eventually("membership to replicate", || {
                (cluster.node(id).membership().voters == BTreeSet::from([1, 2, 3])).then_some(())
            })
            .await;
    }
    cluster.shutdown().await;
}
