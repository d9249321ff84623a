//! A node's private key (ECDSA P-256), generated on the node itself.

use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use super::CaError;

/// A node's ECDSA P-256 key pair. Never leaves the node: the CA only sees a CSR.
pub struct NodeKey(KeyPair);

impl NodeKey {
    /// Generates a fresh ECDSA P-256 key.
    pub fn generate() -> Result<Self, CaError> {
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map(Self)
            .map_err(CaError::generate("generate node key"))
    }

    /// Loads a key from PKCS#8 PEM.
    pub fn from_pem(pem: &str) -> Result<Self, CaError> {
        KeyPair::from_pem(pem)
            .map(Self)
            .map_err(CaError::generate("parse node key"))
    }

    /// The key as PKCS#8 PEM, wiped from memory when dropped.
    pub fn to_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.serialize_pem())
    }

    /// The key in the form rustls wants.
    pub fn private_key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.0.serialize_der()))
    }

    /// A certificate signing request for this key, naming `node_id` as CN.
    ///
    /// The CA ignores the requested subject and writes its own; the CSR
    /// proves possession of the key.
    pub fn csr_der(&self, node_id: &str) -> Result<Vec<u8>, CaError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, node_id);
        let csr = params
            .serialize_request(&self.0)
            .map_err(CaError::generate("create certificate signing request"))?;
        Ok(csr.der().to_vec())
    }

    /// The underlying rcgen key pair.
    pub(crate) fn key_pair(&self) -> &KeyPair {
        &self.0
    }

    /// Takes the underlying rcgen key pair.
    pub(crate) fn into_key_pair(self) -> KeyPair {
        self.0
    }
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeKey(<redacted>)")
    }
}
