//! The state machine on redb: one sealed row per `(table, key)`, plus the
//! last applied log ID and membership, all committed in one transaction per
//! apply batch. An in-memory mirror ([`Shared`]) serves reads and watchers.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, ErrorSubject, ErrorVerb, OptionalSend};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::command::{AppliedChanges, Change, Response, apply_changes, apply_command, diff_tables};
use super::shared::{AppliedState, Shared};
use super::snapshot::{self, SnapshotBuilder};
use super::typ::{self, Entry, LogId, SnapshotMeta, StoredMembership, TypeConfig};
use super::vault::{SM_META, SM_ROWS, Vault, blocking, row_context, slot_context};

const LAST_APPLIED: &str = "last_applied";
const MEMBERSHIP: &str = "membership";

/// One stored row.
#[derive(Debug, Serialize, Deserialize)]
struct Row {
    table: String,
    key: String,
    value: serde_json::Value,
}

/// Writes to `(table, key)` slots: `None` deletes.
type Overlay = BTreeMap<(String, String), Option<serde_json::Value>>;

/// The replicated state machine of one node.
pub struct StateMachine {
    vault: Vault,
    shared: Arc<Shared>,
}

impl StateMachine {
    /// Opens the state machine stored in `vault`, loading the mirror.
    pub(crate) fn open(vault: Vault) -> Result<(Self, Arc<Shared>), StoreError> {
        let state = Self::load(&vault)?;
        let shared = Shared::new(state);
        Ok((
            Self {
                vault,
                shared: shared.clone(),
            },
            shared,
        ))
    }

    fn load(vault: &Vault) -> Result<AppliedState, StoreError> {
        let txn = vault
            .db()
            .begin_read()
            .map_err(StoreError::db("begin read"))?;
        let meta = txn
            .open_table(SM_META)
            .map_err(StoreError::db("open state machine"))?;
        let mut state = AppliedState::default();
        if let Some(sealed) = meta
            .get(LAST_APPLIED)
            .map_err(StoreError::db("read state machine"))?
        {
            state.last_applied = vault.open_json(
                LAST_APPLIED,
                &slot_context("sm", LAST_APPLIED),
                sealed.value(),
            )?;
        }
        if let Some(sealed) = meta
            .get(MEMBERSHIP)
            .map_err(StoreError::db("read state machine"))?
        {
            state.membership =
                vault.open_json(MEMBERSHIP, &slot_context("sm", MEMBERSHIP), sealed.value())?;
        }
        let rows = txn
            .open_table(SM_ROWS)
            .map_err(StoreError::db("open state machine"))?;
        for item in rows.iter().map_err(StoreError::db("read state machine"))? {
            let (row_id, sealed) = item.map_err(StoreError::db("read state machine"))?;
            let row_id: [u8; 32] = row_id.value().try_into().map_err(|_| StoreError::Corrupt {
                what: "state machine row ID",
            })?;
            let row: Row =
                vault.open_json("state machine row", &row_context(&row_id), sealed.value())?;
            state
                .tables
                .entry(row.table)
                .or_default()
                .insert(row.key, row.value);
        }
        Ok(state)
    }

    /// Writes the overlay's rows and the applied markers inside `txn`.
    fn write_applied(
        txn: &WriteTransaction,
        vault: &Vault,
        overlay: Overlay,
        last_applied: Option<LogId>,
        membership: &StoredMembership,
    ) -> Result<(), StoreError> {
        let mut rows = txn
            .open_table(SM_ROWS)
            .map_err(StoreError::db("open state machine"))?;
        for ((table, key), value) in overlay {
            let row_id = vault.row_id(&table, &key);
            match value {
                Some(value) => {
                    let sealed = vault.seal_json(
                        "state machine row",
                        &row_context(&row_id),
                        &Row { table, key, value },
                    )?;
                    rows.insert(row_id.as_slice(), sealed.as_slice())
                        .map_err(StoreError::db("write state machine row"))?;
                }
                None => {
                    rows.remove(row_id.as_slice())
                        .map_err(StoreError::db("delete state machine row"))?;
                }
            }
        }
        let mut meta = txn
            .open_table(SM_META)
            .map_err(StoreError::db("open state machine"))?;
        let sealed = vault.seal_json(
            LAST_APPLIED,
            &slot_context("sm", LAST_APPLIED),
            &last_applied,
        )?;
        meta.insert(LAST_APPLIED, sealed.as_slice())
            .map_err(StoreError::db("write last applied"))?;
        let sealed = vault.seal_json(MEMBERSHIP, &slot_context("sm", MEMBERSHIP), membership)?;
        meta.insert(MEMBERSHIP, sealed.as_slice())
            .map_err(StoreError::db("write membership"))?;
        Ok(())
    }

    /// Replaces the whole stored state with a snapshot's, in one transaction.
    fn replace_all(
        vault: &Vault,
        meta: &SnapshotMeta,
        data: &[u8],
        state: &AppliedState,
    ) -> Result<(), StoreError> {
        let txn = vault
            .db()
            .begin_write()
            .map_err(StoreError::db("begin write"))?;
        {
            let mut rows = txn
                .open_table(SM_ROWS)
                .map_err(StoreError::db("open state machine"))?;
            rows.retain(|_, _| false)
                .map_err(StoreError::db("clear state machine"))?;
        }
        let overlay: Overlay = state
            .tables
            .iter()
            .flat_map(|(table, rows)| {
                rows.iter()
                    .map(|(key, value)| ((table.clone(), key.clone()), Some(value.clone())))
            })
            .collect();
        Self::write_applied(&txn, vault, overlay, state.last_applied, &state.membership)?;
        snapshot::write_current(&txn, vault, meta, data)?;
        txn.commit()
            .map_err(StoreError::db("commit snapshot install"))
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership), typ::StorageError> {
        let state = self.shared.lock();
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, typ::StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut overlay = Overlay::new();
        let mut applied: Vec<AppliedChanges> = Vec::new();
        let mut responses = Vec::new();
        let (mut last_applied, mut membership);
        {
            let state = self.shared.lock();
            (last_applied, membership) = (state.last_applied, state.membership.clone());
            for entry in entries {
                let index = entry.log_id.index;
                match entry.payload {
                    EntryPayload::Blank => {}
                    EntryPayload::Normal(command) => {
                        let mut changes: Vec<Change> = Vec::new();
                        apply_command(&state.tables, &mut overlay, command, &mut changes);
                        if !changes.is_empty() {
                            applied.push(AppliedChanges { index, changes });
                        }
                    }
                    EntryPayload::Membership(config) => {
                        membership = StoredMembership::new(Some(entry.log_id), config);
                    }
                }
                last_applied = Some(entry.log_id);
                responses.push(Response { index });
            }
        }
        if responses.is_empty() {
            return Ok(responses);
        }
        let vault = self.vault.clone();
        let stored_membership = membership.clone();
        blocking(move || {
            let txn = vault
                .db()
                .begin_write()
                .map_err(StoreError::db("begin write"))?;
            Self::write_applied(&txn, &vault, overlay, last_applied, &stored_membership)?;
            txn.commit().map_err(StoreError::db("commit apply"))
        })
        .await
        .map_err(|e| e.into_storage(ErrorSubject::StateMachine, ErrorVerb::Write))?;

        let mut state = self.shared.lock();
        for entry_changes in applied {
            apply_changes(&mut state.tables, &entry_changes.changes);
            self.shared.publish(&state, entry_changes);
        }
        state.last_applied = last_applied;
        state.membership = membership;
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder::new(self.vault.clone(), self.shared.clone())
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, typ::StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), typ::StorageError> {
        let subject = || ErrorSubject::Snapshot(Some(meta.signature()));
        let data = snapshot.into_inner();
        let tables =
            snapshot::decode(&data).map_err(|e| e.into_storage(subject(), ErrorVerb::Read))?;
        let new_state = AppliedState {
            tables,
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        let vault = self.vault.clone();
        let stored_meta = meta.clone();
        let new_state = blocking(move || {
            Self::replace_all(&vault, &stored_meta, &data, &new_state)?;
            Ok(new_state)
        })
        .await
        .map_err(|e| e.into_storage(subject(), ErrorVerb::Write))?;

        let mut state = self.shared.lock();
        let changes = diff_tables(&state.tables, &new_state.tables);
        *state = new_state;
        if !changes.is_empty() {
            let index = meta.last_log_id.map_or(0, |log_id| log_id.index);
            self.shared
                .publish(&state, AppliedChanges { index, changes });
        }
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<typ::Snapshot>, typ::StorageError> {
        let vault = self.vault.clone();
        blocking(move || snapshot::read_current(&vault))
            .await
            .map_err(|e| e.into_storage(ErrorSubject::Snapshot(None), ErrorVerb::Read))
    }
}
