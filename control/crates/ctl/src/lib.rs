//! Node-to-node control RPC: joins, heartbeats, certificate renewal and
//! calls forwarded to the raft leader.
//!
//! It shares the manager's listen address with raft: a connection's ALPN
//! protocol says which ([`ALPN_CTL`] or [`ALPN_RAFT`]). Every request is a
//! frame of `length (u32 BE) || JSON`, answered by one frame; a connection
//! carries any number of them. Joining nodes connect without a client
//! certificate (and pin the CA by the token's digest); everything else is
//! authorised from the caller's certificate by role, and refused for
//! removed nodes.
//!
//! It owns the control RPC's messages and client and may depend on
//! `shoal-model` and `shoal-security`.

mod client;
mod error;
mod proto;
mod wire;

pub use client::{CallLimits, CtlPool, bootstrap_call, connect};
pub use error::CtlError;
pub use proto::{
    ALPN_CTL, ALPN_RAFT, ASSIGNMENT_WAIT, ApiOp, CtlReply, CtlRequest, HeartbeatAck,
    HeartbeatReport, JoinGrant, JoinRpc, LeaderCall, LogCursor, MAX_ENGINE_VERSION_LEN,
    MAX_HOSTNAME_LEN, MAX_LOG_CHUNK, RemoteFailure, RenewGrant, TaskLogsAnswer,
};
pub use shoal_model::spec::TaskReport;
pub use wire::{MAX_FRAME_LEN, read_frame, read_frame_within, write_frame};
