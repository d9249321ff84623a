//! Errors of the [`crate`] module.

use std::time::Duration;

use openraft::{ErrorSubject, ErrorVerb, StorageIOError};

use super::typ::{self, NodeId};
use shoal_security::seal::SealError;
use shoal_security::tls::TlsError;

/// Failures of the replicated store: disk, sealing, transport, and raft.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A redb operation failed.
    #[error("raft database: cannot {action}")]
    Db {
        /// What was being done ("open database", "commit log append", ...).
        action: &'static str,
        /// redb's error.
        #[source]
        source: redb::Error,
    },
    /// Sealing or opening a record failed (wrong data key or tampering when
    /// opening).
    #[error("cannot {action} {what}")]
    Seal {
        /// "seal" or "open".
        action: &'static str,
        /// The kind of record.
        what: &'static str,
        /// The sealing error.
        #[source]
        source: SealError,
    },
    /// A record or message could not be encoded or decoded.
    #[error("cannot encode or decode {what}")]
    Codec {
        /// The kind of record or message.
        what: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored record is malformed.
    #[error("stored {what} is corrupt")]
    Corrupt {
        /// The kind of record.
        what: &'static str,
    },
    /// A blocking storage task panicked or was cancelled.
    #[error("raft storage task failed")]
    BlockingTask {
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The raft core task failed while shutting down.
    #[error("raft node did not shut down cleanly")]
    Shutdown {
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The database was still in use after shutdown.
    #[error("raft database still in use {waited:?} after shutdown")]
    StillOpen {
        /// How long we waited.
        waited: Duration,
    },
    /// A local I/O operation (data directory, listener) failed.
    #[error("cannot {action}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Building the TLS configuration failed.
    #[error("raft TLS configuration")]
    Tls {
        /// The TLS error.
        #[source]
        source: TlsError,
    },
    /// Connecting to a peer (TCP or TLS handshake) failed. Retryable.
    #[error("cannot connect to raft peer at {addr}")]
    Connect {
        /// The peer's address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing an RPC frame failed. Retryable.
    #[error("raft RPC transport to {addr} failed")]
    Transport {
        /// The peer's address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An RPC got no answer in time. Retryable.
    #[error("raft RPC to {addr} timed out after {timeout:?}")]
    RpcTimeout {
        /// The peer's address.
        addr: String,
        /// The deadline.
        timeout: Duration,
    },
    /// A frame announced a length above the limit.
    #[error("raft RPC frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Announced length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The peer refused our RPC (authorisation failed on its side).
    #[error("raft peer at {addr} denied the call: {reason}")]
    Denied {
        /// The peer's address.
        addr: String,
        /// The peer's explanation.
        reason: String,
    },
    /// The peer answered an RPC with the response to another kind of RPC.
    #[error("raft peer at {addr} answered a {sent} RPC with another response")]
    UnexpectedResponse {
        /// The peer's address.
        addr: String,
        /// The RPC we sent.
        sent: &'static str,
    },
    /// The raft configuration is invalid.
    #[error("invalid raft configuration")]
    Config {
        /// openraft's validation error.
        #[source]
        source: Box<openraft::ConfigError>,
    },
    /// The raft node has stopped (shut down or hit a storage error).
    #[error("raft node has stopped")]
    Fatal {
        /// openraft's fatal error.
        #[source]
        source: Box<openraft::error::Fatal<NodeId>>,
    },
    /// This node is not the leader; propose on `leader` instead. Retryable.
    #[error("this manager is not the raft leader (leader: {leader:?})")]
    NotLeader {
        /// The current leader, if known.
        leader: Option<NodeId>,
    },
    /// The write was not committed within `timeout`: the leader cannot reach
    /// a quorum of managers. Retryable. The outcome is unknown: the entry
    /// may still commit if the quorum comes back.
    #[error("no quorum: the write was not committed within {timeout:?} (outcome unknown)")]
    NoQuorum {
        /// How long we waited.
        timeout: Duration,
    },
    /// This manager did not apply the log up to `index` within `timeout`
    /// (it lags the leader). Retryable.
    #[error("this manager did not catch up with the leader (log index {index}) within {timeout:?}")]
    Behind {
        /// The log index waited for.
        index: u64,
        /// How long we waited.
        timeout: Duration,
    },
    /// A membership change was refused.
    #[error("membership change refused")]
    Membership {
        /// openraft's reason.
        #[source]
        source: Box<openraft::error::ChangeMembershipError<NodeId>>,
    },
    /// The cluster could not be initialised.
    #[error("cannot initialise the raft cluster")]
    Initialize {
        /// openraft's reason.
        #[source]
        source: Box<typ::InitializeError>,
    },
    /// A node named in a membership operation is unknown.
    #[error("node {node_id} is not a member of the raft cluster")]
    UnknownNode {
        /// The node ID.
        node_id: NodeId,
    },
}

impl StoreError {
    /// Whether retrying (later, or on another manager) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::NotLeader { .. }
            | StoreError::NoQuorum { .. }
            | StoreError::Behind { .. }
            | StoreError::Connect { .. }
            | StoreError::Transport { .. }
            | StoreError::RpcTimeout { .. } => true,
            // Another membership change is still being committed.
            StoreError::Membership { source } => {
                matches!(
                    **source,
                    openraft::error::ChangeMembershipError::InProgress(_)
                )
            }
            _ => false,
        }
    }

    /// A closure turning a redb error into [`StoreError::Db`].
    pub(crate) fn db<E: Into<redb::Error>>(action: &'static str) -> impl FnOnce(E) -> Self {
        move |source| StoreError::Db {
            action,
            source: source.into(),
        }
    }

    /// A closure turning a serde_json error into [`StoreError::Codec`].
    pub(crate) fn codec(what: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |source| StoreError::Codec { what, source }
    }

    /// This error as openraft's storage error about `subject`.
    pub(crate) fn into_storage(
        self,
        subject: ErrorSubject<NodeId>,
        verb: ErrorVerb,
    ) -> typ::StorageError {
        let source = openraft::AnyError::new(&self);
        StorageIOError::new(subject, verb, source).into()
    }
}

impl From<openraft::error::Fatal<NodeId>> for StoreError {
    fn from(source: openraft::error::Fatal<NodeId>) -> Self {
        StoreError::Fatal {
            source: Box::new(source),
        }
    }
}
