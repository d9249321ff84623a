//! Cluster membership: initialise, add learners, promote, demote, remove.
//!
//! All changes go through the leader; on a follower they fail with
//! [`StoreError::NotLeader`]. Membership changes use openraft's joint
//! consensus, so a change never loses quorum half-way.

use std::collections::{BTreeMap, BTreeSet};

use openraft::ChangeMembers;

use super::StoreError;
use super::node::RaftNode;
use super::store::within;
use super::typ::{self, NodeId};

/// Who is in the cluster, as this node knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipView {
    /// Nodes that vote (managers proper).
    pub voters: BTreeSet<NodeId>,
    /// Nodes that replicate but do not vote.
    pub learners: BTreeSet<NodeId>,
}

impl RaftNode {
    /// Makes this node a one-manager cluster (`swarm init`).
    pub async fn initialize(&self) -> Result<(), StoreError> {
        let members = BTreeMap::from([(self.id, typ::Node::new(self.advertised_addr()))]);
        self.raft
            .initialize(members)
            .await
            .map_err(|err| match err {
                typ::RaftError::Fatal(fatal) => fatal.into(),
                typ::RaftError::APIError(source) => StoreError::Initialize {
                    source: Box::new(source),
                },
            })
    }

    /// Adds `node_id` at `addr` as a learner and waits until it has caught
    /// up (by log or by snapshot). Returns the log index of the change.
    pub async fn add_learner(
        &self,
        node_id: NodeId,
        addr: impl Into<String>,
    ) -> Result<u64, StoreError> {
        let node = typ::Node::new(addr.into());
        let response = within(
            self.membership_timeout,
            self.raft.add_learner(node_id, node, true),
        )
        .await?;
        Ok(response.log_id.index)
    }

    /// Makes the learner `node_id` a voter.
    pub async fn promote(&self, node_id: NodeId) -> Result<u64, StoreError> {
        self.change(ChangeMembers::AddVoterIds(BTreeSet::from([node_id])))
            .await
    }

    /// Makes the voter `node_id` a learner (it keeps replicating).
    pub async fn demote(&self, node_id: NodeId) -> Result<u64, StoreError> {
        self.change(ChangeMembers::RemoveVoters(BTreeSet::from([node_id])))
            .await
    }

    /// Replaces the set of voters; voters left out stay as learners.
    pub async fn change_voters(&self, voters: BTreeSet<NodeId>) -> Result<u64, StoreError> {
        self.change(ChangeMembers::ReplaceAllVoters(voters)).await
    }

    /// Removes `node_id` from the cluster altogether (demoting it first if
    /// it votes).
    pub async fn remove_node(&self, node_id: NodeId) -> Result<u64, StoreError> {
        let view = self.membership();
        if !view.voters.contains(&node_id) && !view.learners.contains(&node_id) {
            return Err(StoreError::UnknownNode { node_id });
        }
        if view.voters.contains(&node_id) {
            self.demote(node_id).await?;
        }
        self.change(ChangeMembers::RemoveNodes(BTreeSet::from([node_id])))
            .await
    }

    /// The membership as this node last applied or appended it.
    pub fn membership(&self) -> MembershipView {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let learners = membership.learner_ids().collect();
        MembershipView { voters, learners }
    }

    /// The leader as this node knows it.
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    async fn change(&self, changes: ChangeMembers<NodeId, typ::Node>) -> Result<u64, StoreError> {
        let response = within(
            self.membership_timeout,
            self.raft.change_membership(changes, true),
        )
        .await?;
        Ok(response.log_id.index)
    }
}
