//! Errors of the [`crate::seal`] module.

/// Why an unlock key string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    /// It does not start with `SWMKEY`.
    #[error("not an unlock key: expected prefix \"SWMKEY\", found {found:?}")]
    WrongPrefix {
        /// The first field (cut to a few characters).
        found: String,
    },
    /// Unknown format version.
    #[error("unsupported unlock key version {found:?} (this node understands version 1)")]
    UnsupportedVersion {
        /// The version field.
        found: String,
    },
    /// Not exactly three dash-separated fields.
    #[error("malformed unlock key: expected 3 dash-separated fields, found {found}")]
    WrongPartCount {
        /// Number of fields found.
        found: usize,
    },
    /// The key field has the wrong length.
    #[error("malformed unlock key: key must be {expected} characters, found {found}")]
    BadLength {
        /// Required length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// The key field has a character outside `0-9a-z`.
    #[error("malformed unlock key: character outside [0-9a-z] at position {position}")]
    BadCharset {
        /// Zero-based index in the key field.
        position: usize,
    },
    /// The key field is larger than 256 bits.
    #[error("malformed unlock key: value out of range")]
    OutOfRange,
}

/// Failures sealing or opening data.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The sealed bytes are shorter than the fixed overhead.
    #[error("sealed data is truncated: {len} bytes, at least {min} needed")]
    Truncated {
        /// Length found.
        len: usize,
        /// Minimum length.
        min: usize,
    },
    /// The sealed bytes use a format version we do not know.
    #[error("sealed data has unsupported format version {version}")]
    UnsupportedVersion {
        /// The version byte.
        version: u8,
    },
    /// Authentication failed: wrong key, wrong context, or tampered data.
    #[error("cannot open sealed data: wrong key or data was tampered with")]
    Authentication,
    /// Encryption failed (only on absurd plaintext sizes).
    #[error("cannot seal data")]
    Encryption,
    /// The unlock key does not open the stored data key (wrong key or
    /// corrupted key file).
    #[error("invalid unlock key")]
    WrongUnlockKey,
    /// The cluster is locked and no unlock key was given.
    #[error("the cluster is locked: run `shoal swarm unlock` with the unlock key")]
    Locked,
    /// A stored key record is malformed.
    #[error("stored data key is malformed: {problem}")]
    MalformedStoredKey {
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An unlock key string could not be parsed.
    #[error(transparent)]
    ParseKey(#[from] KeyParseError),
}
