//! Errors of the [`crate::ca`] module.

use std::path::PathBuf;

/// Everything that can go wrong creating, loading or using the cluster CA.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// rcgen failed to generate a key or sign a certificate.
    #[error("cannot {action}")]
    Generate {
        /// What was being generated ("generate key pair", "sign node certificate", ...).
        action: &'static str,
        /// The underlying rcgen error.
        #[source]
        source: rcgen::Error,
    },
    /// A node or cluster ID is empty, too long or not a DNS label.
    #[error(
        "invalid {kind} {id:?}: expected 1-63 chars of [a-z0-9-], not starting or ending in '-'"
    )]
    InvalidId {
        /// "node ID" or "cluster ID".
        kind: &'static str,
        /// The rejected value.
        id: String,
    },
    /// The certificate signing request is malformed or its signature is wrong.
    #[error("invalid certificate signing request")]
    InvalidCsr {
        /// The underlying rcgen error.
        #[source]
        source: rcgen::Error,
    },
    /// The CSR's key is not ECDSA P-256, the only algorithm the cluster issues for.
    #[error("certificate signing request uses an unsupported key algorithm (expected ECDSA P-256)")]
    UnsupportedCsrAlgorithm,
    /// A certificate could not be parsed as X.509 DER.
    #[error("cannot parse certificate")]
    ParseCertificate {
        /// The parser's error.
        #[source]
        source: x509_parser::error::X509Error,
    },
    /// A certificate lacks a subject field that the cluster requires.
    #[error("certificate subject has no {field}")]
    MissingSubjectField {
        /// "CN", "OU" or "O".
        field: &'static str,
    },
    /// The subject OU is not a role this cluster knows.
    #[error("certificate carries unknown role {ou:?}")]
    UnknownRole {
        /// The OU found in the certificate.
        ou: String,
    },
    /// The loaded root certificate is not a CA certificate.
    #[error("certificate is not a CA certificate")]
    NotACa,
    /// The loaded key does not belong to the loaded root certificate.
    #[error("CA key does not match the CA certificate")]
    KeyMismatch,
    /// Requested validity is empty or inverted.
    #[error("invalid validity: not_after must be later than not_before")]
    InvalidValidity,
    /// A PEM file or string could not be decoded.
    #[error("cannot decode PEM {what}")]
    Pem {
        /// What was being decoded ("CA certificate", "private key", ...).
        what: &'static str,
        /// The PEM decoder's error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The node key is stored sealed (autolock) and no data key was given
    /// to open it.
    #[error("the node key in {} is sealed: unlock the node first", path.display())]
    SealedKey {
        /// The key file.
        path: PathBuf,
    },
    /// The sealed node key could not be opened.
    #[error("cannot open the sealed node key in {}", path.display())]
    OpenSealedKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::seal::SealError,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl CaError {
    /// Wraps an rcgen error raised while doing `action`.
    pub(crate) fn generate(action: &'static str) -> impl FnOnce(rcgen::Error) -> Self {
        move |source| Self::Generate { action, source }
    }

    /// Wraps an I/O error on `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
