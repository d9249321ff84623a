//! Snapshot-plus-watch: the stream continues exactly after the snapshot.

use serde_json::json;

use super::cluster::{TestCluster, fast_raft_config, put};
use crate::{AppliedChanges, Change, Command};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watchers_get_the_snapshot_then_every_change_after_it() {
    let mut cluster = TestCluster::new(fast_raft_config());
    cluster.start(1).await;
    cluster.node(1).initialize().await.expect("initialize");
    cluster.wait_leader(&[1]).await;
    let store = cluster.node(1).store().clone();
    store
        .propose(put("nodes", "a", json!(1)))
        .await
        .expect("put a");
    let before = store
        .propose(put("nodes", "b", json!(2)))
        .await
        .expect("put b");

    let (snapshot, mut changes) = store.snapshot_and_watch();
    assert_eq!(snapshot.index, Some(before.index));
    assert_eq!(snapshot.tables["nodes"].len(), 2);

    let batch = store
        .propose(Command::Batch(vec![
            put("nodes", "c", json!(3)),
            Command::Delete {
                table: "nodes".to_owned(),
                key: "a".to_owned(),
            },
            Command::Delete {
                table: "nodes".to_owned(),
                key: "never-existed".to_owned(),
            },
        ]))
        .await
        .expect("batch");
    let last = store
        .propose(put("services", "web", json!({"n": 1})))
        .await
        .expect("put");

    let first = changes.recv().await.expect("first change");
    assert_eq!(
        first,
        AppliedChanges {
            index: batch.index,
            changes: vec![
                Change::Put {
                    table: "nodes".to_owned(),
                    key: "c".to_owned(),
                    value: json!(3),
                },
                Change::Delete {
                    table: "nodes".to_owned(),
                    key: "a".to_owned(),
                },
            ],
        }
    );
    let second = changes.recv().await.expect("second change");
    assert_eq!(second.index, last.index);
    assert_eq!(second.changes.len(), 1);
    assert_eq!(second.changes[0].table(), "services");
    assert_eq!(second.changes[0].key(), "web");
    assert!(changes.try_recv().is_err(), "nothing else was applied");
    assert_eq!(store.read("nodes", "a"), None);
    assert_eq!(
        store
            .read_linearizable("nodes", "c")
            .await
            .expect("the leader confirms its leadership"),
        Some(json!(3))
    );
    assert_eq!(store.table("nodes").len(), 2);
    cluster.shutdown().await;
}
