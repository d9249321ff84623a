//! The cluster's root certificate authority.
//!
//! Every node's identity lives in its certificate: the subject CN is the node
//! ID, the OU is its role (`swarm-manager` / `swarm-worker`, as in Swarm) and
//! the O is the cluster ID. Managers hold the [`RootCa`] (certificate and
//! key); every node holds the public [`CaCert`] and checks peers against it.

mod digest;
mod error;
mod identity;
mod issue;
mod node_key;
pub mod persist;
mod role;
mod root;

pub use digest::CaDigest;
pub use error::CaError;
pub use identity::NodeIdentity;
pub use issue::{CertValidity, NodeCertificate};
pub use node_key::NodeKey;
pub use role::{Role, RoleOu};
pub use root::{CaCert, RootCa};

use std::time::Duration;

/// Default lifetime of the root CA certificate: 20 years.
pub const DEFAULT_ROOT_EXPIRY: Duration = Duration::from_secs(20 * 365 * 24 * 60 * 60);

/// Default lifetime of node certificates (`--cert-expiry`): 90 days.
pub const DEFAULT_NODE_CERT_EXPIRY: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// Common name of the root CA certificate (Swarm uses the same).
pub const ROOT_CA_COMMON_NAME: &str = "swarm-ca";

/// Longest node or cluster ID we accept; IDs also appear as DNS SANs.
pub const MAX_ID_LEN: usize = 63;

/// Checks that `id` is usable as a node or cluster ID (and as a DNS label).
pub(crate) fn validate_id(kind: &'static str, id: &str) -> Result<(), CaError> {
    let valid_chars = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let valid_edges = !id.starts_with('-') && !id.ends_with('-');
    if id.is_empty() || id.len() > MAX_ID_LEN || !valid_chars || !valid_edges {
        return Err(CaError::InvalidId {
            kind,
            id: id.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
