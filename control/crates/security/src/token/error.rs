//! Errors of the [`crate::token`] module.

use std::fmt;

use crate::ca::CaDigest;

/// Which field of a join token an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPart {
    /// The base36 CA digest.
    CaDigest,
    /// The base36 secret.
    Secret,
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenPart::CaDigest => "CA digest",
            TokenPart::Secret => "secret",
        })
    }
}

/// Why a join token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token does not start with `SWMTKN`.
    #[error("not a join token: expected prefix \"SWMTKN\", found {found:?}")]
    WrongPrefix {
        /// The first field (cut to a few characters).
        found: String,
    },
    /// The token's format version is not one we know.
    #[error("unsupported join token version {found:?} (this node understands version 1)")]
    UnsupportedVersion {
        /// The version field.
        found: String,
    },
    /// The token does not have exactly four dash-separated fields.
    #[error("malformed join token: expected 4 dash-separated fields, found {found}")]
    WrongPartCount {
        /// Number of fields found.
        found: usize,
    },
    /// A field has the wrong length.
    #[error("malformed join token: {part} must be {expected} characters, found {found}")]
    BadLength {
        /// The field.
        part: TokenPart,
        /// Required length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// A field has a character outside lower-case base36 (`0-9a-z`).
    #[error("malformed join token: {part} has a character outside [0-9a-z] at position {position}")]
    BadCharset {
        /// The field.
        part: TokenPart,
        /// Zero-based index of the first bad character in that field.
        position: usize,
    },
    /// The digest field is base36 but larger than any SHA-256 value.
    #[error("malformed join token: CA digest is out of range for SHA-256")]
    DigestOutOfRange,
    /// The token was made for a different cluster CA.
    #[error("join token is for another cluster CA: token pins {found}, cluster CA is {expected}")]
    DigestMismatch {
        /// The digest of the cluster's CA.
        expected: CaDigest,
        /// The digest in the token.
        found: CaDigest,
    },
    /// The secret matches neither the worker nor the manager secret
    /// (wrong, or rotated away).
    #[error("invalid join token secret")]
    InvalidSecret,
}
