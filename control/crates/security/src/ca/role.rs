//! Node roles as carried in the certificate's subject OU.

use super::CaError;

/// The role of a node, fixed in its certificate by the CA: the node
/// model's [`NodeRole`](shoal_model::node::NodeRole) (Display `manager` /
/// `worker`); [`RoleOu`] maps it to and from the subject OU.
pub use shoal_model::node::NodeRole as Role;

/// The subject-OU mapping of a [`Role`], identical to Swarm's.
pub trait RoleOu: Sized {
    /// The subject OU for this role: `swarm-manager` or `swarm-worker`.
    fn organizational_unit(self) -> &'static str;

    /// Parses a subject OU back into a role.
    fn from_organizational_unit(ou: &str) -> Result<Self, CaError>;
}

impl RoleOu for Role {
    fn organizational_unit(self) -> &'static str {
        match self {
            Role::Manager => "swarm-manager",
            Role::Worker => "swarm-worker",
        }
    }

    fn from_organizational_unit(ou: &str) -> Result<Self, CaError> {
        match ou {
            "swarm-manager" => Ok(Role::Manager),
            "swarm-worker" => Ok(Role::Worker),
            other => Err(CaError::UnknownRole {
                ou: other.to_owned(),
            }),
        }
    }
}
