//! Nothing written through raft is on disk in clear.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::cluster::{TestCluster, fast_raft_config, put};
use crate::{Command, StoreError, open_storage};
use shoal_security::seal::DataKey;

const MARKERS: [&str; 4] = [
    "marker-table-7f3a",
    "marker-key-91c2",
    "marker-value-d41e",
    "marker-deleted-5b0e",
];

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `(file, marker)` for every marker found in a file under `dir`.
fn markers_in(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut found = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).expect("read file");
        for marker in MARKERS {
            if bytes.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                found.push((file.clone(), marker));
            }
        }
    }
    found
}

#[test]
fn the_scan_finds_a_marker_written_in_clear() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("sub/plain"), format!("xx{}yy", MARKERS[2])).expect("write");
    assert_eq!(markers_in(dir.path()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_file_in_the_data_dirs_holds_plaintext() {
    let mut config = fast_raft_config();
    // Snapshots (and purges) happen too, so they are checked as well.
    config.snapshot_policy = openraft::SnapshotPolicy::LogsSinceLast(5);
    config.max_in_snapshot_log_to_keep = 2;
    let mut cluster = TestCluster::three_managers(config).await;
    cluster.wait_leader(&[1, 2, 3]).await;

    let value = json!({"secret": MARKERS[2], "nested": [MARKERS[2]]});
    cluster
        .propose(put(MARKERS[0], MARKERS[1], value.clone()))
        .await;
    cluster
        .propose(put(MARKERS[0], MARKERS[3], json!(MARKERS[3])))
        .await;
    cluster
        .propose(Command::Delete {
            table: MARKERS[0].to_owned(),
            key: MARKERS[3].to_owned(),
        })
        .await;
    for i in 0..10 {
        cluster
            .propose(put(
                MARKERS[0],
                &format!("{}-{i}", MARKERS[1]),
                json!(MARKERS[2]),
            ))
            .await;
    }
    for id in 1..=3 {
        cluster.wait_value(id, MARKERS[0], MARKERS[1], &value).await;
        cluster
            .eventually("a snapshot on every node", || {
                cluster.node(id).metrics().snapshot
            })
            .await;
    }
    let data_dirs: Vec<PathBuf> = (1..=3).map(|id| cluster.data_dir(id)).collect();
    for id in 1..=3 {
        cluster.stop(id).await;
    }

    let total: u64 = files_under(cluster.root_dir())
        .iter()
        .map(|f| f.metadata().expect("metadata").len())
        .sum();
    assert!(total > 0, "the scan must see the databases");
    assert_eq!(
        markers_in(cluster.root_dir()),
        vec![],
        "plaintext found on disk"
    );

    // The data is really there, and only the right key opens it.
    let err = open_storage(&data_dirs[0], DataKey::generate())
        .err()
        .expect("a wrong data key cannot open the store");
    assert!(matches!(err, StoreError::Seal { .. }), "{err:?}");
    cluster.start(1).await;
    assert_eq!(
        cluster.node(1).store().read(MARKERS[0], MARKERS[1]),
        Some(value)
    );
    cluster.shutdown().await;
}
