//! Certificates that can be replaced while connections keep being made:
//! the daemon's TLS configs resolve the node certificate per handshake from
//! a [`LiveCert`], so a renewed certificate is used from the next handshake
//! on, without rebuilding any config or restarting raft.

use std::sync::{Arc, PoisonError, RwLock};

use rustls::client::ResolvesClientCert;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ServerConfig, SignatureScheme};

use super::configs::{PROTOCOL_VERSIONS, client_verifier, cluster_roots, crypto_provider};
use super::{ClientAuth, TlsError};
use crate::ca::{CaCert, NodeCertificate, NodeKey};

/// The node's current certificate and key, swappable at run time.
#[derive(Debug)]
pub struct LiveCert {
    current: RwLock<Arc<CertifiedKey>>,
}

/// The chain a node presents: its certificate, then the CA certificate (so
/// a joining node can pin the CA by digest).
fn certified_key(
    ca: &CaCert,
    cert: &NodeCertificate,
    key: &NodeKey,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let signing_key = crypto_provider()
        .key_provider
        .load_private_key(key.private_key_der())
        .map_err(|source| TlsError::Config {
            action: "load node key",
            source,
        })?;
    let chain = vec![cert.der().clone(), ca.der().clone()];
    Ok(Arc::new(CertifiedKey::new(chain, signing_key)))
}

impl LiveCert {
    /// Starts with `cert` and `key`.
    pub fn new(ca: &CaCert, cert: &NodeCertificate, key: &NodeKey) -> Result<Arc<Self>, TlsError> {
        Ok(Arc::new(Self {
            current: RwLock::new(certified_key(ca, cert, key)?),
        }))
    }

    /// Replaces the certificate; the next handshake presents the new one.
    pub fn swap(&self, ca: &CaCert, cert: &NodeCertificate, key: &NodeKey) -> Result<(), TlsError> {
        let next = certified_key(ca, cert, key)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
        Ok(())
    }

    /// The certificate chain and key presented now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ResolvesServerCert for LiveCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl ResolvesClientCert for LiveCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A server config presenting the live certificate, verifying clients
/// against the cluster CA, and offering the ALPN protocols `alpn`.
pub fn live_server_config(
    ca: &CaCert,
    live: Arc<LiveCert>,
    client_auth: ClientAuth,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = crypto_provider();
    let verifier = client_verifier(ca, client_auth, &provider)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|source| TlsError::Config {
            action: "select TLS versions",
            source,
        })?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(live);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    // No session resumption: a resumed session carries the client
    // certificate of the first handshake, and callers are authorised (and
    // their certificate expiry recorded) from the one they present now.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// A client config trusting only the cluster CA, authenticating with the
/// live certificate, and asking for ALPN protocol `alpn`.
pub fn live_client_config(
    ca: &CaCert,
    live: Arc<LiveCert>,
    alpn: &[u8],
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|source| TlsError::Config {
            action: "select TLS versions",
            source,
        })?
        .with_root_certificates(cluster_roots(ca)?)
        .with_client_cert_resolver(live);
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(Arc::new(config))
}
