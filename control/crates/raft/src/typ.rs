//! The one openraft type configuration of shoal and short aliases for the
//! openraft types specialised to it, so the rest of the module never spells
//! out generic parameters.

use std::io::Cursor;

use super::command::{Command, Response};

/// A raft node ID. Managers get one when they join; it is the key of the
/// raft membership.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// shoal's raft type configuration: [`Command`]s in, [`Response`]s out,
    /// nodes addressed by their control address, snapshots held in memory
    /// (and sealed whenever they are written to disk).
    pub TypeConfig:
        D = Command,
        R = Response,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A running raft instance.
pub type Raft = openraft::Raft<TypeConfig>;
/// A node as stored in the membership: its raft control address.
pub type Node = openraft::BasicNode;
/// A log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log entry's payload.
pub type EntryPayload = openraft::EntryPayload<TypeConfig>;
/// A log ID: (leader term and node, index).
pub type LogId = openraft::LogId<NodeId>;
/// A vote (term, candidate, committed).
pub type Vote = openraft::Vote<NodeId>;
/// A membership configuration.
pub type Membership = openraft::Membership<NodeId, Node>;
/// A membership with the log ID it was stored at.
pub type StoredMembership = openraft::StoredMembership<NodeId, Node>;
/// Metadata of a snapshot.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, Node>;
/// A snapshot: metadata plus data.
pub type Snapshot = openraft::Snapshot<TypeConfig>;
/// Raft metrics.
pub type RaftMetrics = openraft::RaftMetrics<NodeId, Node>;
/// Storage errors as openraft expects them.
pub type StorageError = openraft::StorageError<NodeId>;
/// The log state (last purged and last log ID).
pub type LogState = openraft::LogState<TypeConfig>;
/// Raft API errors, with an API-specific error `E`.
pub type RaftError<E = openraft::error::Infallible> = openraft::error::RaftError<NodeId, E>;
/// Errors of a client write or membership change.
pub type ClientWriteError = openraft::error::ClientWriteError<NodeId, Node>;
/// Errors of `initialize`.
pub type InitializeError = openraft::error::InitializeError<NodeId, Node>;
/// Errors of a raft RPC as seen by the sending side.
pub type RpcError<E = openraft::error::Infallible> =
    openraft::error::RPCError<NodeId, Node, RaftError<E>>;
/// Response of a client write.
pub type ClientWriteResponse = openraft::raft::ClientWriteResponse<TypeConfig>;
/// AppendEntries request.
pub type AppendEntriesRequest = openraft::raft::AppendEntriesRequest<TypeConfig>;
/// AppendEntries response.
pub type AppendEntriesResponse = openraft::raft::AppendEntriesResponse<NodeId>;
/// Vote request.
pub type VoteRequest = openraft::raft::VoteRequest<NodeId>;
/// Vote response.
pub type VoteResponse = openraft::raft::VoteResponse<NodeId>;
/// One chunk of a snapshot.
pub type InstallSnapshotRequest = openraft::raft::InstallSnapshotRequest<TypeConfig>;
/// Response to one snapshot chunk.
pub type InstallSnapshotResponse = openraft::raft::InstallSnapshotResponse<NodeId>;
/// Errors specific to receiving a snapshot chunk.
pub type InstallSnapshotError = openraft::error::InstallSnapshotError;
