//! The long poll behind `CtlRequest::Assignments` (in `shoal-ctl`): answer at
//! once when the node's assignment differs from the one it holds, else wait
//! for a store change that alters it. The answer is the whole assignment
//! when the node's version is not the current one on arrival, only what
//! changed (an [`AssignmentUpdate::Delta`]) when a change came while the
//! poll waited, and [`AssignmentUpdate::Unchanged`] after the wait.

use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError};

use super::build::{ASSIGNMENT_TABLES, assemble};
use super::view::{DispatchError, ViewCache};
use shoal_model::assignment::Assignment;
use shoal_model::assignment_update::AssignmentUpdate;
use shoal_raft::{AppliedChanges, StoreSnapshot};

/// Where a long poll reads the store: a manager's [`shoal_raft::Store`].
pub trait AssignmentSource {
    /// The applied index and a receiver of every change after it.
    fn index_and_watch(&self) -> (Option<u64>, broadcast::Receiver<AppliedChanges>);
    /// A copy of the tables (only when the shared view is older).
    fn snapshot(&self) -> StoreSnapshot;
}

impl AssignmentSource for shoal_raft::Store {
    fn index_and_watch(&self) -> (Option<u64>, broadcast::Receiver<AppliedChanges>) {
        shoal_raft::Store::index_and_watch(self)
    }

    fn snapshot(&self) -> StoreSnapshot {
        shoal_raft::Store::snapshot(self)
    }
}

/// Whether an applied entry touched a table assignments are built from.
fn touches_assignments(applied: &AppliedChanges) -> bool {
    applied
        .changes
        .iter()
        .any(|change| ASSIGNMENT_TABLES.contains(&change.table()))
}

/// The assignment of `node_id`: at once if its version is not `known`,
/// else as soon as a change makes it differ, or unchanged after `wait`.
/// Every poll of a manager shares `cache`: a change is decoded once, and
/// each node's assignment is built from the nodes, networks and services
/// it reaches.
pub async fn next_assignment(
    node_id: &str,
    known: Option<u64>,
    wait: Duration,
    cache: &ViewCache,
    source: &impl AssignmentSource,
) -> Result<AssignmentUpdate, DispatchError> {
    let deadline = tokio::time::Instant::now() + wait;
    // The node's version, once built here: what a delta is taken against.
    let mut held: Option<Assignment> = None;
    loop {
        let (index, mut changes) = source.index_and_watch();
        let view = cache
            .get(index, || {
                let snapshot = source.snapshot();
                (snapshot.index, snapshot.tables)
            })
            .await?;
        let assignment = assemble(node_id, &view);
        drop(view);
        if known != Some(assignment.version) {
            return Ok(AssignmentUpdate::between(held.as_ref(), &assignment));
        }
        let unchanged = AssignmentUpdate::Unchanged {
            version: assignment.version,
        };
        held = Some(assignment);
        loop {
            match tokio::time::timeout_at(deadline, changes.recv()).await {
                // Unchanged all along: the node keeps what it has.
                Err(_elapsed) => return Ok(unchanged),
                Ok(Ok(applied)) if !touches_assignments(&applied) => {}
                // A relevant change, or missed ones: look again.
                Ok(Ok(_) | Err(RecvError::Lagged(_))) => break,
                // The store is going away (raft stopped).
                Ok(Err(RecvError::Closed)) => return Ok(unchanged),
            }
        }
    }
}

#[cfg(test)]
mod tests {

    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::*;
    use shoal_model::cluster::{CLUSTER, CLUSTER_KEY, NETWORKS, TASKS};
    use shoal_model::spec::TaskState;
    use shoal_raft::{Change, Tables};

    /// A fake store: tables plus a change feed.
    struct FakeStore {
        tables: Mutex<Tables>,
        index: Mutex<u64>,
        /// How many times the tables were copied.
        snapshots: Mutex<usize>,
        feed: broadcast::Sender<AppliedChanges>,
    }

    impl FakeStore {
        fn new() -> Arc<Self> {
            let mut tables = Tables::new();
            let cluster = json!({
                "id": "c", "ca_cert_pem": "", "ca_key_pem": "", "worker_secret": "",
                "manager_secret": "", "autolock": false, "unlock_key": null,
                "cert_expiry_secs": 1, "data_path_port": 4789, "created_at": 0
            });
            tables
                .entry(CLUSTER.to_owned())
                .or_default()
                .insert(CLUSTER_KEY.to_owned(), cluster);
            Arc::new(FakeStore {
                tables: Mutex::new(tables),
                index: Mutex::new(1),
                snapshots: Mutex::new(0),
                feed: broadcast::channel(16).0,
            })
        }
    }

    impl AssignmentSource for FakeStore {
        fn index_and_watch(&self) -> (Option<u64>, broadcast::Receiver<AppliedChanges>) {
            let _tables = self.tables.lock().unwrap();
            (Some(*self.index.lock().unwrap()), self.feed.subscribe())
        }

        fn snapshot(&self) -> StoreSnapshot {
            *self.snapshots.lock().unwrap() += 1;
            StoreSnapshot {
                index: Some(*self.index.lock().unwrap()),
                tables: self.tables.lock().unwrap().clone(),
            }
        }
    }

    impl FakeStore {
        fn put(&self, table: &str, key: &str, value: serde_json::Value) {
            let mut tables = self.tables.lock().unwrap();
            tables
                .entry(table.to_owned())
                .or_default()
                .insert(key.to_owned(), value.clone());
            *self.index.lock().unwrap() += 1;
            drop(tables);
            let change = Change::Put {
                table: table.to_owned(),
                key: key.to_owned(),
                value,
            };
            let _ = self.feed.send(AppliedChanges {
                index: 1,
                changes: vec![change],
            });
        }
    }

    fn network(name: &str, vni: u32) -> serde_json::Value {
        json!({
            "id": name, "name": name, "driver": "overlay", "vni": vni,
            "subnet": "10.0.9.0/24", "gateway": "10.0.9.1", "created_at": 0
        })
    }

    /// The whole assignment of a [`AssignmentUpdate::Full`] answer.
    fn full(update: AssignmentUpdate) -> Assignment {
        match update {
            AssignmentUpdate::Full(assignment) => *assignment,
            other => panic!("not a full assignment: {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_unknown_version_is_answered_at_once() {
        let store = FakeStore::new();
        let cache = ViewCache::default();
        let first = next_assignment("n1", None, Duration::from_secs(60), &cache, &*store)
            .await
            .map(full)
            .unwrap();
        let stale = next_assignment(
            "n1",
            Some(first.version ^ 1),
            Duration::from_secs(60),
            &cache,
            &*store,
        )
        .await
        .unwrap();
        assert_eq!(stale, AssignmentUpdate::Full(Box::new(first)));
    }

    #[tokio::test]
    async fn an_unchanged_assignment_is_held_until_a_relevant_change() {
        let store = FakeStore::new();
        let cache = ViewCache::default();
        let first = next_assignment("n1", None, Duration::ZERO, &cache, &*store)
            .await
            .map(full)
            .unwrap();
        let held = first.clone();
        let waiting = {
            let store = store.clone();
            tokio::spawn(async move {
                next_assignment(
                    "n1",
                    Some(first.version),
                    Duration::from_secs(10),
                    &ViewCache::default(),
                    &*store,
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        store.put("heartbeats", "n1", json!(1));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "an unrelated change woke the poll");
        // A network none of n1's tasks is on does not concern n1.
        store.put(NETWORKS, "front", network("front", 4097));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiting.is_finished(),
            "another node's network woke the poll"
        );
        let task = super::super::tests::task("t1", 1, "n1", TaskState::Running, TaskState::Running);
        store.put(TASKS, "t1", serde_json::to_value(task).unwrap());
        let update = waiting.await.unwrap().unwrap();
        assert!(
            matches!(update, AssignmentUpdate::Delta(_)),
            "a change while waiting comes as a delta: {update:?}"
        );
        let next = update.apply(Some(&held)).unwrap();
        assert_ne!(next.version, first.version);
        assert_eq!(next.networks[0].name, "front");
        assert_eq!(next.tasks[0].task.id, "t1");
    }

    #[tokio::test]
    async fn an_unchanged_assignment_comes_back_after_the_wait() {
        let store = FakeStore::new();
        let cache = ViewCache::default();
        let first = next_assignment("n1", None, Duration::ZERO, &cache, &*store)
            .await
            .map(full)
            .unwrap();
        let started = tokio::time::Instant::now();
        let same = next_assignment(
            "n1",
            Some(first.version),
            Duration::from_millis(300),
            &cache,
            &*store,
        )
        .await
        .unwrap();
        assert_eq!(
            same,
            AssignmentUpdate::Unchanged {
                version: first.version
            }
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn one_copy_of_the_store_serves_every_node_until_it_changes() {
        let store = FakeStore::new();
        let cache = ViewCache::default();
        for node in ["n1", "n2", "n3", "n1"] {
            next_assignment(node, None, Duration::ZERO, &cache, &*store)
                .await
                .unwrap();
        }
        assert_eq!(*store.snapshots.lock().unwrap(), 1, "copied per node");
        store.put(NETWORKS, "front", network("front", 4097));
        for node in ["n1", "n2"] {
            next_assignment(node, None, Duration::ZERO, &cache, &*store)
                .await
                .unwrap();
        }
        assert_eq!(
            *store.snapshots.lock().unwrap(),
            2,
            "a change is copied once"
        );
    }
}
