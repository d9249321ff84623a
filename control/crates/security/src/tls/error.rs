//! Errors of the [`crate::tls`] module.

use crate::ca::{CaDigest, CaError, Role};

/// Failures building TLS configurations or authorising a peer.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls rejected a configuration step.
    #[error("cannot {action}")]
    Config {
        /// The step ("add CA to root store", "load node certificate", ...).
        action: &'static str,
        /// rustls' error.
        #[source]
        source: rustls::Error,
    },
    /// The certificate verifier could not be built.
    #[error("cannot build certificate verifier")]
    Verifier {
        /// rustls' error.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// A bootstrap server presented no CA certificate with the token's digest.
    #[error(
        "manager's CA does not match the join token: expected {expected}, server presented {presented:?}"
    )]
    CaDigestMismatch {
        /// The digest in the join token.
        expected: CaDigest,
        /// Digests of the certificates the server sent besides its own.
        presented: Vec<CaDigest>,
    },
    /// The peer presented no certificate.
    #[error("peer presented no client certificate")]
    NoPeerCertificate,
    /// The peer's certificate does not carry a usable node identity.
    #[error("peer certificate carries no valid node identity")]
    PeerIdentity {
        /// Why the identity could not be read.
        #[source]
        source: CaError,
    },
    /// The peer belongs to another cluster.
    #[error("peer {node_id} belongs to cluster {found:?}, not {expected:?}")]
    WrongCluster {
        /// The peer's node ID.
        node_id: String,
        /// This cluster's ID.
        expected: String,
        /// The peer certificate's cluster ID.
        found: String,
    },
    /// The peer's role may not make this call.
    #[error("permission denied: node {node_id} is a {role}, this call requires a {required}")]
    RoleNotAllowed {
        /// The peer's node ID.
        node_id: String,
        /// The peer's role.
        role: Role,
        /// The role the call requires.
        required: Role,
    },
}
