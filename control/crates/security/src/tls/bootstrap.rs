//! The joining node's TLS client: trust pinned by the join token's CA digest.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore,
    SignatureScheme,
};

use super::TlsError;
use super::configs::{PROTOCOL_VERSIONS, crypto_provider};
use crate::ca::CaDigest;

/// Verifies a server whose CA is not yet known, only pinned by digest.
///
/// The server must send its CA certificate after its own. The verifier
/// picks the presented certificate whose SHA-256 equals the pinned digest
/// (none: refused) and then verifies the server's certificate against it as
/// the only trust anchor, with the usual name and validity checks.
#[derive(Debug)]
pub struct PinnedCaVerifier {
    pinned: CaDigest,
    provider: Arc<CryptoProvider>,
}

impl PinnedCaVerifier {
    /// A verifier accepting only servers under the CA with digest `pinned`.
    pub fn new(pinned: CaDigest) -> Self {
        Self {
            pinned,
            provider: crypto_provider(),
        }
    }

    fn pinned_ca<'a>(
        &self,
        presented: &'a [CertificateDer<'a>],
    ) -> Result<&'a CertificateDer<'a>, TlsError> {
        presented
            .iter()
            .find(|cert| CaDigest::of_der(cert) == self.pinned)
            .ok_or_else(|| TlsError::CaDigestMismatch {
                expected: self.pinned,
                presented: presented
                    .iter()
                    .map(|cert| CaDigest::of_der(cert))
                    .collect(),
            })
    }
}

/// Wraps our error so that rustls reports it as a bad certificate.
fn rejected(error: TlsError) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(error))))
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = self.pinned_ca(intermediates).map_err(rejected)?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let chain_verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|source| rejected(TlsError::Verifier { source }))?;
        chain_verifier.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Client configuration for joining with a token: no client certificate,
/// and the manager is trusted only if its CA has the token's digest.
pub fn bootstrap_client_config(pinned: CaDigest) -> Result<Arc<ClientConfig>, TlsError> {
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|source| TlsError::Config {
            action: "select TLS versions",
            source,
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCaVerifier::new(pinned)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}
