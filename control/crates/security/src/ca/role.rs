//! Node roles as carried in the certificate's subject OU.

use std::fmt;

use super::CaError;
use shoal_model::cluster::NodeRole;

/// The role of a node, fixed in its certificate by the CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A manager: runs raft, the CA and the manager APIs.
    Manager,
    /// A worker: runs tasks, talks to the dispatcher only.
    Worker,
}

impl Role {
    /// The subject OU for this role, identical to Swarm's.
    pub const fn organizational_unit(self) -> &'static str {
        match self {
            Role::Manager => "swarm-manager",
            Role::Worker => "swarm-worker",
        }
    }

    /// Parses a subject OU back into a role.
    pub fn from_organizational_unit(ou: &str) -> Result<Self, CaError> {
        match ou {
            "swarm-manager" => Ok(Role::Manager),
            "swarm-worker" => Ok(Role::Worker),
            other => Err(CaError::UnknownRole {
                ou: other.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Manager => "manager",
            Role::Worker => "worker",
        })
    }
}

impl From<Role> for NodeRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Manager => NodeRole::Manager,
            Role::Worker => NodeRole::Worker,
        }
    }
}

impl From<NodeRole> for Role {
    fn from(role: NodeRole) -> Self {
        match role {
            NodeRole::Manager => Role::Manager,
            NodeRole::Worker => Role::Worker,
        }
    }
}
