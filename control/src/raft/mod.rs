//! The raft-replicated store of the control plane.
//!
//! Managers replicate a log of [`Command`]s with openraft; each applies it
//! to a state machine of JSON tables. Everything on disk (log entries, vote,
//! rows, snapshots) lives in one redb file per node and is sealed with the
//! cluster's [`crate::seal::DataKey`]. Peers talk over mutual TLS
//! ([`crate::tls`]), and every raft RPC is authorised as
//! [`crate::ca::Role::Manager`]. Snapshots travel in chunks of
//! `snapshot_max_chunk_size`, so no message ever approaches a size ceiling.
//!
//! - [`typ`]: the one openraft type configuration and its aliases.
//! - [`LogStore`], [`StateMachine`]: openraft's storage traits on redb.
//! - [`NetworkFactory`] / [`RaftServer`]: the RPC client and server.
//! - [`RaftNode`]: a running node; its management methods (initialise,
//!   add learner, promote, demote, change membership) live in `management`.
//! - [`Store`]: what the rest of the control plane uses: propose, read,
//!   and snapshot-plus-watch ("the store is the bus").

mod command;
mod error;
mod log_store;
mod shared;
mod snapshot;
mod state_machine;
pub mod typ;
mod vault;

pub use command::{AppliedChanges, Change, Command, Response, Tables};
pub use error::StoreError;
pub use log_store::LogStore;
pub use shared::WATCH_CAPACITY;
pub use snapshot::SnapshotBuilder;
pub use state_machine::StateMachine;
pub use typ::NodeId;
pub use vault::DB_FILE;

#[cfg(test)]
mod tests;

/// Opens the sealed raft storage in `dir`: the log store, the state machine
/// and the state machine's shared in-memory mirror.
pub(crate) fn open_storage(
    dir: &std::path::Path,
    key: crate::seal::DataKey,
) -> Result<(LogStore, StateMachine, std::sync::Arc<shared::Shared>), StoreError> {
    let vault = vault::Vault::open(dir, key)?;
    let log_store = LogStore::new(vault.clone());
    let (state_machine, shared) = StateMachine::open(vault)?;
    Ok((log_store, state_machine, shared))
}
