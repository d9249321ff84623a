//! What a manager answers a node's assignment long poll with: the whole
//! [`Assignment`], only what changed since the one the node holds, or
//! word that nothing changed.
//!
//! A change to the cluster changes few things in each node's assignment —
//! one peer more after a join, one service's backends after a task starts
//! — so the answer carries, per list, only the span between the first and
//! the last difference ([`Splice`]). The node rebuilds the whole
//! assignment from the one it holds and checks the result against the
//! version the manager computed; on any mismatch it asks for the whole
//! assignment again, so a lost or misapplied delta costs one round trip,
//! never a wrong assignment.

use serde::{Deserialize, Serialize};

use crate::assignment::Assignment;

/// The answer to an assignment poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentUpdate {
    /// The whole assignment (the node held none, or another version).
    Full(Box<Assignment>),
    /// What changed since the version the node holds.
    Delta(Box<AssignmentDelta>),
    /// The node's version is still current.
    Unchanged {
        /// That version.
        version: u64,
    },
}

/// A list rebuilt from an older one: its first `front` and last `back`
/// items kept, `middle` between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Splice<T> {
    /// Items kept from the start.
    pub front: usize,
    /// Items kept from the end.
    pub back: usize,
    /// What replaces everything in between.
    pub middle: Vec<T>,
}

impl<T: Clone + PartialEq> Splice<T> {
    /// The splice that turns `old` into `new`.
    pub fn between(old: &[T], new: &[T]) -> Splice<T> {
        let front = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let (old_rest, new_rest) = (&old[front..], &new[front..]);
        let back = old_rest
            .iter()
            .rev()
            .zip(new_rest.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        Splice {
            front,
            back,
            middle: new_rest[..new_rest.len() - back].to_vec(),
        }
    }

    /// `old` with the splice applied; `None` if it does not fit `old`.
    pub fn apply(&self, old: &[T]) -> Option<Vec<T>> {
        let kept = self.front.checked_add(self.back)?;
        if kept > old.len() {
            return None;
        }
        let mut new = Vec::with_capacity(kept + self.middle.len());
        new.extend_from_slice(&old[..self.front]);
        new.extend_from_slice(&self.middle);
        new.extend_from_slice(&old[old.len() - self.back..]);
        Some(new)
    }
}

/// An assignment as changes to an older one of the same node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentDelta {
    /// The version it applies to.
    pub base: u64,
    /// The version it makes.
    pub version: u64,
    /// The swarm's data-path port (small: always sent).
    pub data_path_port: u16,
    /// The encrypted networks' key (small: always sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay_key: Option<crate::assignment::AssignedOverlayKey>,
    /// The node's tasks.
    pub tasks: Splice<crate::assignment::AssignedTask>,
    /// Its networks.
    pub networks: Splice<crate::cluster::NetworkRecord>,
    /// Remote task addresses.
    pub remote_tasks: Splice<crate::assignment::RemoteTask>,
    /// Peer underlay addresses.
    pub peers: Splice<std::net::Ipv4Addr>,
    /// WireGuard peers.
    pub wg_peers: Splice<crate::assignment::WgPeer>,
    /// Services to balance.
    pub services: Splice<crate::assignment::LbService>,
}

/// Why an update could not be applied to the assignment a node holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// It is for another version than the one held.
    #[error("the update is for assignment version {base}, this node holds {held:?}")]
    WrongBase {
        /// The version it applies to.
        base: u64,
        /// The version held.
        held: Option<u64>,
    },
    /// A list is shorter than the splice keeps.
    #[error("the update does not fit the assignment held ({list})")]
    DoesNotFit {
        /// Which list.
        list: &'static str,
    },
    /// The rebuilt assignment is not the version announced.
    #[error("the rebuilt assignment's digest is {got}, the manager announced {version}")]
    Digest {
        /// Announced.
        version: u64,
        /// Computed.
        got: u64,
    },
}

impl AssignmentDelta {
    /// What turns `old` into `new` (both of one node).
    pub fn between(old: &Assignment, new: &Assignment) -> AssignmentDelta {
        AssignmentDelta {
            base: old.version,
            version: new.version,
            data_path_port: new.data_path_port,
            overlay_key: new.overlay_key.clone(),
            tasks: Splice::between(&old.tasks, &new.tasks),
            networks: Splice::between(&old.networks, &new.networks),
            remote_tasks: Splice::between(&old.remote_tasks, &new.remote_tasks),
            peers: Splice::between(&old.peers, &new.peers),
            wg_peers: Splice::between(&old.wg_peers, &new.wg_peers),
            services: Splice::between(&old.services, &new.services),
        }
    }

    fn apply(&self, old: &Assignment) -> Result<Assignment, UpdateError> {
        fn fit<T: Clone + PartialEq>(
            splice: &Splice<T>,
            old: &[T],
            list: &'static str,
        ) -> Result<Vec<T>, UpdateError> {
            splice.apply(old).ok_or(UpdateError::DoesNotFit { list })
        }
        let new = Assignment {
            version: self.version,
            node_id: old.node_id.clone(),
            data_path_port: self.data_path_port,
            tasks: fit(&self.tasks, &old.tasks, "tasks")?,
            networks: fit(&self.networks, &old.networks, "networks")?,
            remote_tasks: fit(&self.remote_tasks, &old.remote_tasks, "remote tasks")?,
            peers: fit(&self.peers, &old.peers, "peers")?,
            wg_peers: fit(&self.wg_peers, &old.wg_peers, "WireGuard peers")?,
            overlay_key: self.overlay_key.clone(),
            services: fit(&self.services, &old.services, "services")?,
        };
        match new.digest() {
            got if got == self.version => Ok(new),
            got => Err(UpdateError::Digest {
                version: self.version,
                got,
            }),
        }
    }
}

impl AssignmentUpdate {
    /// The update for a node that holds `held` (the version it polled
    /// with) and should now have `current`.
    pub fn between(held: Option<&Assignment>, current: &Assignment) -> AssignmentUpdate {
        match held {
            Some(old) if old.version == current.version => AssignmentUpdate::Unchanged {
                version: current.version,
            },
            Some(old) => AssignmentUpdate::Delta(Box::new(AssignmentDelta::between(old, current))),
            None => AssignmentUpdate::Full(Box::new(current.clone())),
        }
    }

    /// The assignment this update makes of `held`.
    pub fn apply(self, held: Option<&Assignment>) -> Result<Assignment, UpdateError> {
        let base = |v: u64| match held {
            Some(a) if a.version == v => Ok(a),
            _ => Err(UpdateError::WrongBase {
                base: v,
                held: held.map(|a| a.version),
            }),
        };
        match self {
            AssignmentUpdate::Full(assignment) => Ok(*assignment),
            AssignmentUpdate::Unchanged { version } => base(version).cloned(),
            AssignmentUpdate::Delta(delta) => delta.apply(base(delta.base)?),
        }
    }
}

#[cfg(test)]
#[path = "assignment_update_tests.rs"]
mod tests;
