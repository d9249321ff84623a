//! Server and client configurations for node-to-node mutual TLS.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::TlsError;
use crate::ca::{CaCert, NodeCertificate, NodeKey};

/// Whether a server demands a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Every client must present a certificate from the cluster CA.
    Required,
    /// Clients without a certificate may connect (the join endpoint, where
    /// the node has only a token); those with one must still chain to the CA.
    Optional,
}

/// The crypto provider of all shoal TLS: rustls' `ring` backend.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS versions shoal speaks: 1.3 only.
pub(super) const PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13];

/// A root store holding only the cluster CA.
pub(super) fn cluster_roots(ca: &CaCert) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(ca.der().clone())
        .map_err(|source| TlsError::Config {
            action: "add CA certificate to root store",
            source,
        })?;
    Ok(Arc::new(roots))
}

/// Verifies client certificates against the cluster CA; with
/// [`ClientAuth::Optional`] a client without one is let through (the join
/// endpoint), to be refused by the authoriser where a role is required.
pub(super) fn client_verifier(
    ca: &CaCert,
    client_auth: ClientAuth,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let mut verifier =
        WebPkiClientVerifier::builder_with_provider(cluster_roots(ca)?, provider.clone());
    if client_auth == ClientAuth::Optional {
        verifier = verifier.allow_unauthenticated();
    }
    verifier
        .build()
        .map_err(|source| TlsError::Verifier { source })
}

/// A server configuration presenting `cert` (and the CA certificate) and
/// verifying client certificates against the cluster CA.
pub fn server_config(
    ca: &CaCert,
    cert: &NodeCertificate,
    key: &NodeKey,
    client_auth: ClientAuth,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = crypto_provider();
    let verifier = client_verifier(ca, client_auth, &provider)?;
    let chain = vec![cert.der().clone(), ca.der().clone()];
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|source| TlsError::Config {
            action: "select TLS versions",
            source,
        })?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key.private_key_der())
        .map_err(|source| TlsError::Config {
            action: "load node certificate and key",
            source,
        })?;
    Ok(Arc::new(config))
}

/// A client configuration that trusts only the cluster CA and authenticates
/// with the node's certificate.
pub fn client_config(
    ca: &CaCert,
    cert: &NodeCertificate,
    key: &NodeKey,
) -> Result<Arc<ClientConfig>, TlsError> {
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|source| TlsError::Config {
            action: "select TLS versions",
            source,
        })?
        .with_root_certificates(cluster_roots(ca)?)
        .with_client_auth_cert(vec![cert.der().clone()], key.private_key_der())
        .map_err(|source| TlsError::Config {
            action: "load node certificate and key",
            source,
        })?;
    Ok(Arc::new(config))
}
