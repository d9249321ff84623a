//! Issuing node certificates from the root CA.

use std::time::Duration;

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DnType, ExtendedKeyUsagePurpose,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType, SerialNumber,
};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use time::OffsetDateTime;

use super::{CaError, NodeIdentity, NodeKey, Role, RoleOu, RootCa, validate_id};

/// How far a new certificate is backdated, to tolerate clock skew between nodes.
const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(5 * 60);

/// The validity window of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertValidity {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl CertValidity {
    /// Valid from now (backdated a few minutes for clock skew) for `expiry`.
    pub fn from_now(expiry: Duration) -> Result<Self, CaError> {
        let now = OffsetDateTime::now_utc();
        let skew =
            time::Duration::try_from(CLOCK_SKEW_ALLOWANCE).map_err(|_| CaError::InvalidValidity)?;
        let expiry = time::Duration::try_from(expiry).map_err(|_| CaError::InvalidValidity)?;
        let not_after = now.checked_add(expiry).ok_or(CaError::InvalidValidity)?;
        Self::new(now - skew, not_after)
    }

    /// An explicit window; `not_after` must be later than `not_before`.
    ///
    /// Windows in the past are allowed (tests issue expired certificates).
    pub fn new(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<Self, CaError> {
        if not_after <= not_before {
            return Err(CaError::InvalidValidity);
        }
        Ok(Self {
            not_before,
            not_after,
        })
    }

    /// Start of the window.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// End of the window.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }
}

/// A certificate issued to a node by the cluster CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCertificate {
    der: CertificateDer<'static>,
}

impl NodeCertificate {
    /// Wraps a DER certificate (e.g. read from disk). Not verified here.
    pub fn from_der(der: impl Into<Vec<u8>>) -> Self {
        Self {
            der: CertificateDer::from(der.into()),
        }
    }

    /// The DER encoding.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The certificate as PEM.
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", self.der.to_vec()))
    }

    /// The node identity the certificate carries.
    pub fn identity(&self) -> Result<NodeIdentity, CaError> {
        NodeIdentity::from_der(&self.der)
    }
}

impl RootCa {
    /// Issues a certificate for the key in a CSR (DER), proving possession of it.
    ///
    /// The subject comes from the CA's arguments, never from the CSR: a node
    /// cannot choose its own ID or role.
    pub fn issue_for_csr(
        &self,
        csr_der: &[u8],
        node_id: &str,
        role: Role,
        validity: CertValidity,
    ) -> Result<NodeCertificate, CaError> {
        let csr =
            CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
                .map_err(|source| CaError::InvalidCsr { source })?;
        if csr.public_key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(CaError::UnsupportedCsrAlgorithm);
        }
        self.sign_node(&csr.public_key, node_id, role, validity)
    }

    /// Generates a key for a node and issues its certificate (used for the
    /// first manager, which has nobody to send a CSR to).
    pub fn issue_with_new_key(
        &self,
        node_id: &str,
        role: Role,
        validity: CertValidity,
    ) -> Result<(NodeKey, NodeCertificate), CaError> {
        let key = NodeKey::generate()?;
        let cert = self.sign_node(key.key_pair(), node_id, role, validity)?;
        Ok((key, cert))
    }

    fn sign_node(
        &self,
        public_key: &impl PublicKeyData,
        node_id: &str,
        role: Role,
        validity: CertValidity,
    ) -> Result<NodeCertificate, CaError> {
        validate_id("node ID", node_id)?;
        let params = node_params(node_id, role, self.cert.cluster_id(), validity)?;
        let cert = params
            .signed_by(public_key, &self.issuer)
            .map_err(CaError::generate("sign node certificate"))?;
        Ok(NodeCertificate::from_der(cert.der().to_vec()))
    }
}

/// Certificate parameters for a node: CN = node ID, OU = role, O = cluster ID.
///
/// The SANs name the node and its role so that TLS clients can verify a
/// manager as `swarm-manager` without knowing its address.
fn node_params(
    node_id: &str,
    role: Role,
    cluster_id: &str,
    validity: CertValidity,
) -> Result<CertificateParams, CaError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, node_id);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, role.organizational_unit());
    params
        .distinguished_name
        .push(DnType::OrganizationName, cluster_id);
    params.subject_alt_names = [node_id, role.organizational_unit()]
        .into_iter()
        .map(|name| {
            name.to_owned()
                .try_into()
                .map(SanType::DnsName)
                .map_err(CaError::generate("encode subject alternative name"))
        })
        .collect::<Result<_, _>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = validity.not_before();
    params.not_after = validity.not_after();
    params.serial_number = Some(random_serial());
    Ok(params)
}

/// A random positive 128-bit serial number.
pub(super) fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    // Positive and without a leading zero byte, so DER keeps all 16 bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}
