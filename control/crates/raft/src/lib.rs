//! The raft-replicated store of the control plane.
//!
//! Managers replicate a log of [`Command`]s with openraft; each applies it
//! to a state machine of JSON tables. Everything on disk (log entries, vote,
//! rows, snapshots) lives in one redb file per node and is sealed with the
//! cluster's [`shoal_security::seal::DataKey`]. Peers talk over mutual TLS
//! ([`shoal_security::tls`]), and every raft RPC is authorised as
//! [`shoal_security::ca::Role::Manager`]. Snapshots travel in chunks of
//! `snapshot_max_chunk_size`, so no message ever approaches a size ceiling.
//!
//! - [`typ`]: the one openraft type configuration and its aliases.
//! - [`LogStore`], [`StateMachine`]: openraft's storage traits on redb.
//! - [`NetworkFactory`] / [`RaftServer`]: the RPC client and server.
//! - [`RaftNode`]: a running node; its management methods (initialise,
//!   add learner, promote, demote, change membership) live in `management`.
//! - [`Store`]: what the rest of the control plane uses: propose, read,
//!   and snapshot-plus-watch ("the store is the bus").
//!
//! It owns the `raft` part of the control plane and may depend on
//! `shoal-security` (and `shoal-model`).

mod command;
mod error;
mod log_store;
mod management;
mod network_client;
mod network_server;
mod node;
mod shared;
mod snapshot;
mod state_machine;
mod store;
pub mod typ;
mod vault;
mod wire;

pub use command::{AppliedChanges, Change, Command, Response, Tables};
pub use error::StoreError;
pub use log_store::LogStore;
pub use management::MembershipView;
pub use network_client::{NetworkFactory, PeerClient};
pub use network_server::{RaftServer, ServerStats};
pub use node::{
    DEFAULT_MEMBERSHIP_TIMEOUT, DEFAULT_WRITE_TIMEOUT, NodeConfig, RaftNode, RaftTls,
    default_raft_config,
};
pub use shared::WATCH_CAPACITY;
pub use snapshot::SnapshotBuilder;
pub use state_machine::StateMachine;
pub use store::{Store, StoreSnapshot};
pub use typ::NodeId;
pub use vault::DB_FILE;
pub use wire::{MAX_HEADER_LEN, MAX_PAYLOAD_LEN};

#[cfg(test)]
mod tests;

/// The opened raft storage of one node.
pub(crate) struct OpenedStorage {
    pub(crate) log_store: LogStore,
    pub(crate) state_machine: StateMachine,
    /// The state machine's in-memory mirror.
    pub(crate) shared: std::sync::Arc<shared::Shared>,
    /// Resolves once the database is closed.
    pub(crate) closed: vault::DatabaseClosed,
}

/// Opens the sealed raft storage in `dir`.
pub(crate) fn open_storage(
    dir: &std::path::Path,
    key: shoal_security::seal::DataKey,
) -> Result<OpenedStorage, StoreError> {
    let (vault, closed) = vault::Vault::open(dir, key)?;
    let log_store = LogStore::new(vault.clone());
    let (state_machine, shared) = StateMachine::open(vault)?;
    Ok(OpenedStorage {
        log_store,
        state_machine,
        shared,
        closed,
    })
}
