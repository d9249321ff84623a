//! The sealed redb database under a node's raft directory.
//!
//! Every value is sealed with the cluster's [`DataKey`] before redb sees it;
//! the context string binds a record to its slot (a log entry to its index,
//! a row to its row ID), so records cannot be swapped on disk unnoticed.
//! Keys are log indexes, fixed slot names and keyed hashes of
//! `(table, key)`: no user data is on disk in clear.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::StoreError;
use shoal_security::seal::DataKey;

/// Log index → sealed entry.
pub(crate) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Log store slots (`vote`, `committed`, `last_purged`) → sealed value.
pub(crate) const LOG_META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_log_meta");
/// Row ID (keyed hash of table and key) → sealed [`super::state_machine::Row`].
pub(crate) const SM_ROWS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sm_rows");
/// State machine slots (`last_applied`, `membership`) → sealed value.
pub(crate) const SM_META: TableDefinition<&str, &[u8]> = TableDefinition::new("sm_meta");
/// Snapshot slots (`meta`, `data`) → sealed value.
pub(crate) const SNAPSHOT: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshot");

/// File name of the database inside the raft data directory.
pub const DB_FILE: &str = "raft.redb";

/// The database and the key that seals everything in it.
#[derive(Clone)]
pub(crate) struct Vault {
    db: Arc<ClosingDatabase>,
    key: DataKey,
}

/// A database that reports when it has been closed.
struct ClosingDatabase {
    // Fields drop in order: the database closes (releasing its file lock)
    // before the sender drops and wakes the receiver.
    db: Database,
    _closed: oneshot::Sender<()>,
}

/// Resolves once the database is closed.
pub(crate) type DatabaseClosed = oneshot::Receiver<()>;

impl Vault {
    /// Opens (or creates) the database in `dir`, creating all tables.
    pub(crate) fn open(dir: &Path, key: DataKey) -> Result<(Self, DatabaseClosed), StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "create raft data directory",
            source,
        })?;
        let db = Database::create(dir.join(DB_FILE)).map_err(StoreError::db("open database"))?;
        let txn = db.begin_write().map_err(StoreError::db("begin write"))?;
        {
            txn.open_table(LOG)
                .map_err(StoreError::db("create table"))?;
            txn.open_table(LOG_META)
                .map_err(StoreError::db("create table"))?;
            txn.open_table(SM_ROWS)
                .map_err(StoreError::db("create table"))?;
            txn.open_table(SM_META)
                .map_err(StoreError::db("create table"))?;
            txn.open_table(SNAPSHOT)
                .map_err(StoreError::db("create table"))?;
        }
        txn.commit()
            .map_err(StoreError::db("commit table creation"))?;
        let (closed_tx, closed_rx) = oneshot::channel();
        let db = ClosingDatabase {
            db,
            _closed: closed_tx,
        };
        Ok((
            Self {
                db: Arc::new(db),
                key,
            },
            closed_rx,
        ))
    }

    /// The database.
    pub(crate) fn db(&self) -> &Database {
        &self.db.db
    }

    /// Serialises `value` as JSON and seals it under `context`.
    pub(crate) fn seal_json<T: Serialize>(
        &self,
        what: &'static str,
        context: &[u8],
        value: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_vec(value).map_err(StoreError::codec(what))?;
        self.seal_bytes(what, context, &plain)
    }

    /// Seals raw bytes under `context`.
    pub(crate) fn seal_bytes(
        &self,
        what: &'static str,
        context: &[u8],
        plain: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.key
            .seal(context, plain)
            .map_err(|source| StoreError::Seal {
                action: "seal",
                what,
                source,
            })
    }

    /// Opens a sealed record and parses its JSON.
    pub(crate) fn open_json<T: DeserializeOwned>(
        &self,
        what: &'static str,
        context: &[u8],
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        let plain = self.open_bytes(what, context, sealed)?;
        serde_json::from_slice(&plain).map_err(StoreError::codec(what))
    }

    /// Opens a sealed record.
    pub(crate) fn open_bytes(
        &self,
        what: &'static str,
        context: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.key
            .open(context, sealed)
            .map_err(|source| StoreError::Seal {
                action: "open",
                what,
                source,
            })
    }

    /// The row ID of `table/key`: a hash keyed with the data key, so the
    /// on-disk key reveals neither name yet a lookup needs no scan.
    pub(crate) fn row_id(&self, table: &str, key: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"shoal raft row id v1\0");
        hasher.update(self.key.expose_bytes());
        hasher.update((table.len() as u64).to_be_bytes());
        hasher.update(table.as_bytes());
        hasher.update(key.as_bytes());
        hasher.finalize().into()
    }
}

/// Sealing context of the log entry at `index`.
pub(crate) fn log_context(index: u64) -> Vec<u8> {
    let mut context = b"shoal/raft/log/".to_vec();
    context.extend_from_slice(&index.to_be_bytes());
    context
}

/// Sealing context of a named slot in table `table`.
pub(crate) fn slot_context(table: &str, slot: &str) -> Vec<u8> {
    format!("shoal/raft/{table}/{slot}").into_bytes()
}

/// Sealing context of a state machine row.
pub(crate) fn row_context(row_id: &[u8; 32]) -> Vec<u8> {
    let mut context = b"shoal/raft/sm/row/".to_vec();
    context.extend_from_slice(row_id);
    context
}

/// Runs blocking database work off the async executor.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|source| StoreError::BlockingTask { source })?
}
