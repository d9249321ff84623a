//! [`Store`]: the handle the rest of the control plane uses.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, ClientWriteError};
use openraft::metrics::WaitError;
use tokio::sync::broadcast;

use super::StoreError;
use super::command::{AppliedChanges, Command, Response, Tables};
use super::shared::Shared;
use super::typ::{self, NodeId};

/// The tables as of one applied log index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreSnapshot {
    /// The last applied log index (`None` before anything was applied).
    pub index: Option<u64>,
    /// All tables.
    pub tables: Tables,
}

/// A handle on the replicated store of one manager. Cheap to clone.
///
/// Reads are served from this manager's applied state: on a follower they
/// may lag the leader (use [`Store::read_linearizable`] when that matters).
#[derive(Clone)]
pub struct Store {
    raft: typ::Raft,
    shared: Arc<Shared>,
    write_timeout: Duration,
}

impl Store {
    pub(crate) fn new(raft: typ::Raft, shared: Arc<Shared>, write_timeout: Duration) -> Self {
        Self {
            raft,
            shared,
            write_timeout,
        }
    }

    /// Proposes `command` and waits until it is committed and applied here.
    ///
    /// Fails with [`StoreError::NotLeader`] on a follower (forwarding is the
    /// caller's business) and with [`StoreError::NoQuorum`] when the leader
    /// cannot commit within the write timeout.
    pub async fn propose(&self, command: Command) -> Result<Response, StoreError> {
        let response = within(self.write_timeout, self.raft.client_write(command)).await?;
        Ok(response.data)
    }

    /// The value of `table/key` as applied on this manager.
    pub fn read(&self, table: &str, key: &str) -> Option<serde_json::Value> {
        let state = self.shared.lock();
        state
            .tables
            .get(table)
            .and_then(|rows| rows.get(key))
            .cloned()
    }

    /// All rows of `table` as applied on this manager.
    pub fn table(&self, table: &str) -> BTreeMap<String, serde_json::Value> {
        let state = self.shared.lock();
        state.tables.get(table).cloned().unwrap_or_default()
    }

    /// Like [`Store::read`], after confirming with a quorum that this
    /// manager is the leader and has applied everything committed before
    /// the call.
    pub async fn read_linearizable(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let index = self.read_index().await?;
        self.wait_applied(index).await?;
        Ok(self.read(table, key))
    }

    /// The first half of a linearizable read, on the leader: confirms with
    /// a quorum that this manager still leads and returns the log index
    /// every write committed before the call is at or below. Any manager
    /// that has applied that index ([`Store::wait_applied`]) can then
    /// serve the read from its own state.
    ///
    /// Fails with [`StoreError::NotLeader`] on a follower and with
    /// [`StoreError::NoQuorum`] when no quorum confirms in time.
    pub async fn read_index(&self) -> Result<Option<u64>, StoreError> {
        let no_quorum = StoreError::NoQuorum {
            timeout: self.write_timeout,
        };
        let checked = tokio::time::timeout(self.write_timeout, self.raft.get_read_log_id()).await;
        match checked {
            Err(_) => Err(no_quorum),
            Ok(Ok((read_log_id, _applied))) => Ok(read_log_id.map(|log_id| log_id.index)),
            Ok(Err(typ::RaftError::Fatal(fatal))) => Err(fatal.into()),
            Ok(Err(typ::RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)))) => {
                Err(StoreError::NotLeader {
                    leader: forward.leader_id,
                })
            }
            Ok(Err(typ::RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_)))) => {
                Err(no_quorum)
            }
        }
    }

    /// Waits (up to the write timeout) until this manager has applied the
    /// log up to `index`, the second half of a linearizable read.
    pub async fn wait_applied(&self, index: Option<u64>) -> Result<(), StoreError> {
        let Some(index) = index else {
            return Ok(());
        };
        self.raft
            .wait(Some(self.write_timeout))
            .applied_index_at_least(Some(index), "linearizable read")
            .await
            .map(drop)
            .map_err(|err| match err {
                WaitError::Timeout(..) => StoreError::Behind {
                    index,
                    timeout: self.write_timeout,
                },
                WaitError::ShuttingDown => openraft::error::Fatal::Stopped.into(),
            })
    }

    /// The current tables plus every change applied after them.
    ///
    /// The snapshot and the subscription are taken under one lock, so the
    /// stream starts exactly after the snapshot. A receiver that falls more
    /// than [`super::WATCH_CAPACITY`] entries behind gets
    /// [`broadcast::error::RecvError::Lagged`] and must start over.
    pub fn snapshot_and_watch(&self) -> (StoreSnapshot, broadcast::Receiver<AppliedChanges>) {
        let state = self.shared.lock();
        let snapshot = StoreSnapshot {
            index: state.last_applied.map(|log_id| log_id.index),
            tables: state.tables.clone(),
        };
        (snapshot, self.shared.subscribe(&state))
    }

    /// The last applied index and a receiver of every change applied after
    /// it, without copying the tables.
    pub fn index_and_watch(&self) -> (Option<u64>, broadcast::Receiver<AppliedChanges>) {
        let state = self.shared.lock();
        let index = state.last_applied.map(|log_id| log_id.index);
        (index, self.shared.subscribe(&state))
    }

    /// A copy of every table and the index it was applied at.
    pub fn snapshot(&self) -> StoreSnapshot {
        let state = self.shared.lock();
        StoreSnapshot {
            index: state.last_applied.map(|log_id| log_id.index),
            tables: state.tables.clone(),
        }
    }

    /// The last log index applied on this manager.
    pub fn applied_index(&self) -> Option<u64> {
        self.shared.lock().last_applied.map(|log_id| log_id.index)
    }

    /// The leader as this manager knows it.
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }
}

/// Awaits a raft write within `timeout`, mapping openraft's errors: a
/// redirect becomes [`StoreError::NotLeader`], a timeout
/// [`StoreError::NoQuorum`].
pub(crate) async fn within<T>(
    timeout: Duration,
    write: impl Future<Output = Result<T, typ::RaftError<typ::ClientWriteError>>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, write).await {
        Err(_) => Err(StoreError::NoQuorum { timeout }),
        Ok(Ok(value)) => Ok(value),
        Ok(Err(typ::RaftError::Fatal(fatal))) => Err(fatal.into()),
        Ok(Err(typ::RaftError::APIError(ClientWriteError::ForwardToLeader(forward)))) => {
            Err(StoreError::NotLeader {
                leader: forward.leader_id,
            })
        }
        Ok(Err(typ::RaftError::APIError(ClientWriteError::ChangeMembershipError(source)))) => {
            Err(StoreError::Membership {
                source: Box::new(source),
            })
        }
    }
}
