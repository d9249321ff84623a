//! The root CA certificate (public) and the root CA with its signing key.

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use zeroize::Zeroizing;

use super::identity::{SubjectField, parse_x509, subject_field};
use super::issue::{CertValidity, random_serial};
use super::{CaDigest, CaError, NodeKey, ROOT_CA_COMMON_NAME, validate_id};

/// The public root CA certificate every node trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct CaCert {
    der: CertificateDer<'static>,
    cluster_id: String,
}

impl CaCert {
    /// Parses a DER certificate and checks that it is a CA naming a cluster (O).
    pub fn from_der(der: impl Into<Vec<u8>>) -> Result<Self, CaError> {
        let der = CertificateDer::from(der.into());
        let cert = parse_x509(&der)?;
        if !cert.is_ca() {
            return Err(CaError::NotACa);
        }
        let cluster_id = subject_field(&cert, SubjectField::Organization)?;
        Ok(Self { der, cluster_id })
    }

    /// Parses a PEM certificate.
    pub fn from_pem(pem: &str) -> Result<Self, CaError> {
        let der =
            CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|source| CaError::Pem {
                what: "CA certificate",
                source,
            })?;
        Self::from_der(der.to_vec())
    }

    /// The certificate's DER encoding.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The certificate as PEM.
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", self.der.to_vec()))
    }

    /// SHA-256 of the DER encoding: what join tokens pin.
    pub fn digest(&self) -> CaDigest {
        CaDigest::of_der(&self.der)
    }

    /// The cluster ID (the certificate's subject O).
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }
}

impl std::fmt::Debug for CaCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaCert")
            .field("cluster_id", &self.cluster_id)
            .field("digest", &self.digest())
            .finish()
    }
}

/// The root CA: its certificate and its signing key. Lives on managers only.
pub struct RootCa {
    pub(super) cert: CaCert,
    pub(super) issuer: Issuer<'static, KeyPair>,
}

impl RootCa {
    /// Creates a new self-signed root CA for `cluster_id`, valid for `expiry`
    /// (see [`super::DEFAULT_ROOT_EXPIRY`]).
    pub fn create(cluster_id: &str, expiry: Duration) -> Result<Self, CaError> {
        validate_id("cluster ID", cluster_id)?;
        let validity = CertValidity::from_now(expiry)?;
        let key = NodeKey::generate()?.into_key_pair();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, ROOT_CA_COMMON_NAME);
        params
            .distinguished_name
            .push(DnType::OrganizationName, cluster_id);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = validity.not_before();
        params.not_after = validity.not_after();
        params.serial_number = Some(random_serial());
        let cert = params
            .self_signed(&key)
            .map_err(CaError::generate("self-sign root CA"))?;
        Self::from_parts(CaCert::from_der(cert.der().to_vec())?, key)
    }

    /// Loads a root CA from its PEM certificate and PEM private key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let cert = CaCert::from_pem(cert_pem)?;
        let key = NodeKey::from_pem(key_pem)?.into_key_pair();
        Self::from_parts(cert, key)
    }

    fn from_parts(cert: CaCert, key: KeyPair) -> Result<Self, CaError> {
        let parsed = parse_x509(cert.der())?;
        if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(CaError::KeyMismatch);
        }
        if !key.is_compatible(&PKCS_ECDSA_P256_SHA256) {
            return Err(CaError::KeyMismatch);
        }
        let issuer = Issuer::from_ca_cert_der(cert.der(), key)
            .map_err(CaError::generate("load CA issuer"))?;
        Ok(Self { cert, issuer })
    }

    /// The public CA certificate.
    pub fn cert(&self) -> &CaCert {
        &self.cert
    }

    /// The CA's private key as PKCS#8 PEM, wiped from memory when dropped.
    pub fn key_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(self.issuer.key().serialize_pem())
    }
}

impl std::fmt::Debug for RootCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCa")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}
