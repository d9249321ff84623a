//! Snapshots of the state machine: built from the in-memory tables, kept
//! sealed in the database, sent to peers in chunks by openraft.

use std::io::Cursor;
use std::sync::Arc;

use openraft::{ErrorSubject, ErrorVerb, RaftSnapshotBuilder};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::command::Tables;
use super::shared::Shared;
use super::typ::{self, SnapshotMeta, TypeConfig};
use super::vault::{SNAPSHOT, Vault, blocking, slot_context};

const META: &str = "meta";

/// The serialised content of a snapshot (its metadata travels separately).
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    tables: Tables,
}

/// Encodes tables as snapshot data.
pub(crate) fn encode(tables: &Tables) -> Result<Vec<u8>, StoreError> {
    #[derive(Serialize)]
    struct PayloadRef<'a> {
        tables: &'a Tables,
    }
    serde_json::to_vec(&PayloadRef { tables }).map_err(StoreError::codec("snapshot"))
}

/// Decodes snapshot data.
pub(crate) fn decode(data: &[u8]) -> Result<Tables, StoreError> {
    let payload: Payload = serde_json::from_slice(data).map_err(StoreError::codec("snapshot"))?;
    Ok(payload.tables)
}

fn data_context(snapshot_id: &str) -> Vec<u8> {
    slot_context("snapshot", &format!("data/{snapshot_id}"))
}

/// Stores `meta` and `data` as the current snapshot inside `txn`, unless
/// the stored one is newer.
pub(crate) fn write_current(
    txn: &WriteTransaction,
    vault: &Vault,
    meta: &SnapshotMeta,
    data: &[u8],
) -> Result<(), StoreError> {
    let mut table = txn
        .open_table(SNAPSHOT)
        .map_err(StoreError::db("open snapshot"))?;
    if let Some(sealed) = table.get(META).map_err(StoreError::db("read snapshot"))? {
        let stored: SnapshotMeta = vault.open_json(
            "snapshot meta",
            &slot_context("snapshot", META),
            sealed.value(),
        )?;
        if stored.last_log_id > meta.last_log_id {
            return Ok(());
        }
    }
    let sealed_meta = vault.seal_json("snapshot meta", &slot_context("snapshot", META), meta)?;
    let sealed_data = vault.seal_bytes("snapshot data", &data_context(&meta.snapshot_id), data)?;
    table
        .insert(META, sealed_meta.as_slice())
        .map_err(StoreError::db("write snapshot"))?;
    table
        .insert("data", sealed_data.as_slice())
        .map_err(StoreError::db("write snapshot"))?;
    Ok(())
}

/// Reads the current snapshot, if any.
pub(crate) fn read_current(vault: &Vault) -> Result<Option<typ::Snapshot>, StoreError> {
    let txn = vault
        .db()
        .begin_read()
        .map_err(StoreError::db("begin read"))?;
    let table = txn
        .open_table(SNAPSHOT)
        .map_err(StoreError::db("open snapshot"))?;
    let Some(sealed_meta) = table.get(META).map_err(StoreError::db("read snapshot"))? else {
        return Ok(None);
    };
    let meta: SnapshotMeta = vault.open_json(
        "snapshot meta",
        &slot_context("snapshot", META),
        sealed_meta.value(),
    )?;
    let Some(sealed_data) = table.get("data").map_err(StoreError::db("read snapshot"))? else {
        return Ok(None);
    };
    let data = vault.open_bytes(
        "snapshot data",
        &data_context(&meta.snapshot_id),
        sealed_data.value(),
    )?;
    Ok(Some(typ::Snapshot {
        meta,
        snapshot: Box::new(Cursor::new(data)),
    }))
}

/// Builds snapshots from the applied state; openraft runs it beside the
/// state machine, so it reads the shared mirror rather than the database.
pub struct SnapshotBuilder {
    vault: Vault,
    shared: Arc<Shared>,
}

impl SnapshotBuilder {
    pub(crate) fn new(vault: Vault, shared: Arc<Shared>) -> Self {
        Self { vault, shared }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<typ::Snapshot, typ::StorageError> {
        let (tables, last_applied, membership) = {
            let state = self.shared.lock();
            (
                state.tables.clone(),
                state.last_applied,
                state.membership.clone(),
            )
        };
        let snapshot_id = match last_applied {
            Some(log_id) => format!(
                "{}-{}-{:016x}",
                log_id.leader_id,
                log_id.index,
                rand::random::<u64>()
            ),
            None => format!("empty-{:016x}", rand::random::<u64>()),
        };
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id,
        };
        let vault = self.vault.clone();
        let stored_meta = meta.clone();
        let data = blocking(move || {
            let data = encode(&tables)?;
            let txn = vault
                .db()
                .begin_write()
                .map_err(StoreError::db("begin write"))?;
            write_current(&txn, &vault, &stored_meta, &data)?;
            txn.commit().map_err(StoreError::db("commit snapshot"))?;
            Ok(data)
        })
        .await
        .map_err(|e| {
            e.into_storage(
                ErrorSubject::Snapshot(Some(meta.signature())),
                ErrorVerb::Write,
            )
        })?;
        Ok(typ::Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}
