//! Reading a node's identity back out of its certificate.

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{CaError, Role, RoleOu};

/// Who a peer is, according to its (already verified) certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// The node ID (subject CN).
    pub node_id: String,
    /// The node's role (subject OU).
    pub role: Role,
    /// The cluster the certificate was issued for (subject O).
    pub cluster_id: String,
    /// When the certificate expires.
    pub not_after: OffsetDateTime,
}

impl NodeIdentity {
    /// Extracts the identity from a DER certificate.
    ///
    /// This does not verify the certificate: call it on a certificate that
    /// the TLS layer has already checked against the cluster CA.
    pub fn from_der(der: &[u8]) -> Result<Self, CaError> {
        let cert = parse_x509(der)?;
        let role = Role::from_organizational_unit(&subject_field(
            &cert,
            SubjectField::OrganizationalUnit,
        )?)?;
        Ok(Self {
            node_id: subject_field(&cert, SubjectField::CommonName)?,
            role,
            cluster_id: subject_field(&cert, SubjectField::Organization)?,
            not_after: cert.validity().not_after.to_datetime(),
        })
    }
}

/// The subject attributes the cluster puts into its certificates.
#[derive(Debug, Clone, Copy)]
pub(super) enum SubjectField {
    /// CN: the node ID.
    CommonName,
    /// OU: the role.
    OrganizationalUnit,
    /// O: the cluster ID.
    Organization,
}

impl SubjectField {
    const fn short_name(self) -> &'static str {
        match self {
            SubjectField::CommonName => "CN",
            SubjectField::OrganizationalUnit => "OU",
            SubjectField::Organization => "O",
        }
    }
}

/// The first value of the subject attribute `field`.
pub(super) fn subject_field(
    cert: &X509Certificate<'_>,
    field: SubjectField,
) -> Result<String, CaError> {
    let subject = cert.subject();
    let first = match field {
        SubjectField::CommonName => subject.iter_common_name().next(),
        SubjectField::OrganizationalUnit => subject.iter_organizational_unit().next(),
        SubjectField::Organization => subject.iter_organization().next(),
    };
    first
        .and_then(|attr| attr.as_str().ok())
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .ok_or(CaError::MissingSubjectField {
            field: field.short_name(),
        })
}

/// Parses DER as an X.509 certificate.
pub(super) fn parse_x509(der: &[u8]) -> Result<X509Certificate<'_>, CaError> {
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => Ok(cert),
        Err(x509_parser::nom::Err::Error(source) | x509_parser::nom::Err::Failure(source)) => {
            Err(CaError::ParseCertificate { source })
        }
        Err(x509_parser::nom::Err::Incomplete(_)) => Err(CaError::ParseCertificate {
            source: x509_parser::error::X509Error::InvalidCertificate,
        }),
    }
}
