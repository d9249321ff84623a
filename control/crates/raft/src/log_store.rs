//! The raft log on redb: entries, vote, committed and purge marker, all
//! sealed. Appends are committed with immediate durability (fsync) before
//! openraft is told they are flushed.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, OptionalSend, RaftLogReader};
use redb::{ReadableDatabase, ReadableTable};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use super::typ::{self, Entry, LogId, TypeConfig, Vote};
use super::vault::{LOG, LOG_META, Vault, blocking, log_context, slot_context};

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

/// The durable raft log of one node. Cheap to clone (clones share the
/// database); openraft uses clones as log readers.
#[derive(Clone)]
pub struct LogStore {
    vault: Vault,
}

impl LogStore {
    pub(crate) fn new(vault: Vault) -> Self {
        Self { vault }
    }

    fn read_slot<T: DeserializeOwned>(
        vault: &Vault,
        slot: &'static str,
    ) -> Result<Option<T>, StoreError> {
        let txn = vault
            .db()
            .begin_read()
            .map_err(StoreError::db("begin read"))?;
        let table = txn
            .open_table(LOG_META)
            .map_err(StoreError::db("open log meta"))?;
        let Some(sealed) = table.get(slot).map_err(StoreError::db("read log meta"))? else {
            return Ok(None);
        };
        vault
            .open_json(slot, &slot_context("log", slot), sealed.value())
            .map(Some)
    }

    fn write_slot<T: Serialize>(
        vault: &Vault,
        slot: &'static str,
        value: &T,
    ) -> Result<(), StoreError> {
        let sealed = vault.seal_json(slot, &slot_context("log", slot), value)?;
        let txn = vault
            .db()
            .begin_write()
            .map_err(StoreError::db("begin write"))?;
        {
            let mut table = txn
                .open_table(LOG_META)
                .map_err(StoreError::db("open log meta"))?;
            table
                .insert(slot, sealed.as_slice())
                .map_err(StoreError::db("write log meta"))?;
        }
        txn.commit().map_err(StoreError::db("commit log meta"))
    }

    fn read_range(
        vault: &Vault,
        range: (Bound<u64>, Bound<u64>),
    ) -> Result<Vec<Entry>, StoreError> {
        let txn = vault
            .db()
            .begin_read()
            .map_err(StoreError::db("begin read"))?;
        let table = txn.open_table(LOG).map_err(StoreError::db("open log"))?;
        let mut entries = Vec::new();
        for item in table
            .range::<u64>(range)
            .map_err(StoreError::db("read log"))?
        {
            let (index, sealed) = item.map_err(StoreError::db("read log"))?;
            let index = index.value();
            entries.push(vault.open_json("log entry", &log_context(index), sealed.value())?);
        }
        Ok(entries)
    }

    fn log_state(vault: &Vault) -> Result<typ::LogState, StoreError> {
        let last_purged: Option<LogId> = Self::read_slot(vault, LAST_PURGED)?;
        let txn = vault
            .db()
            .begin_read()
            .map_err(StoreError::db("begin read"))?;
        let table = txn.open_table(LOG).map_err(StoreError::db("open log"))?;
        let last = table
            .last()
            .map_err(StoreError::db("read last log entry"))?;
        let last_log_id = match last {
            Some((index, sealed)) => {
                let index = index.value();
                let entry: Entry =
                    vault.open_json("log entry", &log_context(index), sealed.value())?;
                Some(entry.log_id)
            }
            None => last_purged,
        };
        Ok(typ::LogState {
            last_purged_log_id: last_purged,
            last_log_id,
        })
    }

    fn append_durably(vault: &Vault, entries: Vec<Entry>) -> Result<(), StoreError> {
        let mut sealed = Vec::with_capacity(entries.len());
        for entry in &entries {
            let index = entry.log_id.index;
            sealed.push((
                index,
                vault.seal_json("log entry", &log_context(index), entry)?,
            ));
        }
        let txn = vault
            .db()
            .begin_write()
            .map_err(StoreError::db("begin write"))?;
        {
            let mut table = txn.open_table(LOG).map_err(StoreError::db("open log"))?;
            for (index, record) in &sealed {
                table
                    .insert(*index, record.as_slice())
                    .map_err(StoreError::db("append log entry"))?;
            }
        }
        // Immediate durability is redb's default: commit returns after fsync.
        txn.commit().map_err(StoreError::db("commit log append"))
    }

    /// Removes entries in `range`, and writes the purge marker if given.
    fn remove_range(
        vault: &Vault,
        range: (Bound<u64>, Bound<u64>),
        purged: Option<LogId>,
    ) -> Result<(), StoreError> {
        let marker = match &purged {
            Some(log_id) => {
                Some(vault.seal_json(LAST_PURGED, &slot_context("log", LAST_PURGED), log_id)?)
            }
            None => None,
        };
        let txn = vault
            .db()
            .begin_write()
            .map_err(StoreError::db("begin write"))?;
        {
            if let Some(marker) = &marker {
                let mut meta = txn
                    .open_table(LOG_META)
                    .map_err(StoreError::db("open log meta"))?;
                meta.insert(LAST_PURGED, marker.as_slice())
                    .map_err(StoreError::db("write purge marker"))?;
            }
            let mut table = txn.open_table(LOG).map_err(StoreError::db("open log"))?;
            table
                .retain_in::<u64, _>(range, |_, _| false)
                .map_err(StoreError::db("remove log entries"))?;
        }
        txn.commit().map_err(StoreError::db("commit log removal"))
    }
}

fn owned_bounds<RB: RangeBounds<u64>>(range: &RB) -> (Bound<u64>, Bound<u64>) {
    (range.start_bound().cloned(), range.end_bound().cloned())
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, typ::StorageError> {
        let vault = self.vault.clone();
        let bounds = owned_bounds(&range);
        blocking(move || Self::read_range(&vault, bounds))
            .await
            .map_err(|e| e.into_storage(ErrorSubject::Logs, ErrorVerb::Read))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<typ::LogState, typ::StorageError> {
        let vault = self.vault.clone();
        blocking(move || Self::log_state(&vault))
            .await
            .map_err(|e| e.into_storage(ErrorSubject::Logs, ErrorVerb::Read))
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), typ::StorageError> {
        let vault = self.vault.clone();
        let vote = *vote;
        blocking(move || Self::write_slot(&vault, VOTE, &vote))
            .await
            .map_err(|e| e.into_storage(ErrorSubject::Vote, ErrorVerb::Write))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, typ::StorageError> {
        let vault = self.vault.clone();
        blocking(move || Self::read_slot(&vault, VOTE))
            .await
            .map_err(|e| e.into_storage(ErrorSubject::Vote, ErrorVerb::Read))
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), typ::StorageError> {
        let vault = self.vault.clone();
        blocking(move || Self::write_slot(&vault, COMMITTED, &committed))
            .await
            .map_err(|e| e.into_storage(ErrorSubject::Store, ErrorVerb::Write))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, typ::StorageError> {
        let vault = self.vault.clone();
        blocking(move || Ok(Self::read_slot::<Option<LogId>>(&vault, COMMITTED)?.flatten()))
            .await
            .map_err(|e| e.into_storage(ErrorSubject::Store, ErrorVerb::Read))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), typ::StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let vault = self.vault.clone();
        let result = blocking(move || Self::append_durably(&vault, entries)).await;
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(err) => {
                let message = err.to_string();
                callback.log_io_completed(Err(std::io::Error::other(message)));
                Err(err.into_storage(ErrorSubject::Logs, ErrorVerb::Write))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), typ::StorageError> {
        let vault = self.vault.clone();
        blocking(move || {
            Self::remove_range(
                &vault,
                (Bound::Included(log_id.index), Bound::Unbounded),
                None,
            )
        })
        .await
        .map_err(|e| e.into_storage(ErrorSubject::Logs, ErrorVerb::Delete))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), typ::StorageError> {
        let vault = self.vault.clone();
        blocking(move || {
            Self::remove_range(
                &vault,
                (Bound::Unbounded, Bound::Included(log_id.index)),
                Some(log_id),
            )
        })
        .await
        .map_err(|e| e.into_storage(ErrorSubject::Logs, ErrorVerb::Delete))
    }
}
