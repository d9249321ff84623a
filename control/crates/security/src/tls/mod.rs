//! Mutual TLS between nodes, anchored in the cluster CA.
//!
//! - [`server_config`]: presents the node certificate (plus the CA cert, so
//!   joining nodes can pin it) and demands client certificates signed by the
//!   cluster CA ([`ClientAuth::Optional`] only for the join endpoint).
//! - [`client_config`]: trusts only the cluster CA and authenticates with the
//!   node certificate.
//! - [`bootstrap_client_config`]: for a node that has only a join token: it
//!   trusts nothing but a CA whose digest equals the token's, and so refuses
//!   an impostor manager before anything secret is sent.
//! - [`Authorizer`]: turns a verified peer certificate into a
//!   [`crate::ca::NodeIdentity`] and checks its role per call.
//!
//! All configs use rustls with the `ring` provider and TLS 1.3 only: every
//! peer is a shoal node, so there is no legacy client to serve.

mod authz;
mod bootstrap;
mod configs;
mod error;
mod live;

pub use authz::Authorizer;
pub use bootstrap::{PinnedCaVerifier, bootstrap_client_config};
pub use configs::{ClientAuth, client_config, crypto_provider, server_config};
pub use error::TlsError;
pub use live::{LiveCert, live_client_config, live_server_config};

/// Server name clients use when connecting to any manager; every manager
/// certificate carries it as a DNS SAN, so no certificate needs IP SANs.
pub const MANAGER_SERVER_NAME: &str = "swarm-manager";

#[cfg(test)]
mod tests;
