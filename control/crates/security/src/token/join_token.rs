//! The join token value: parse and print.

use std::fmt;
use std::str::FromStr;

use super::{DIGEST_LEN, JoinSecret, TOKEN_PREFIX, TOKEN_VERSION, TokenError, TokenPart, base36};
use crate::ca::CaDigest;

/// A parsed `SWMTKN-1-<ca digest>-<secret>` join token.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    ca_digest: CaDigest,
    secret: JoinSecret,
}

impl JoinToken {
    /// A token pinning `ca_digest` and carrying `secret`.
    pub fn new(ca_digest: CaDigest, secret: JoinSecret) -> Self {
        Self { ca_digest, secret }
    }

    /// The CA digest a joining node must find on the manager.
    pub fn ca_digest(&self) -> &CaDigest {
        &self.ca_digest
    }

    /// Checks that the token pins `ca_digest`, the cluster's CA: a check
    /// any manager can make without the secrets.
    pub fn check_ca(&self, ca_digest: &CaDigest) -> Result<(), TokenError> {
        if self.ca_digest != *ca_digest {
            return Err(TokenError::DigestMismatch {
                expected: *ca_digest,
                found: self.ca_digest,
            });
        }
        Ok(())
    }

    /// The secret the node presents once it trusts the manager.
    pub fn secret(&self) -> &JoinSecret {
        &self.secret
    }
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TOKEN_PREFIX}-{TOKEN_VERSION}-{}-{}",
            base36::encode(self.ca_digest.as_bytes(), DIGEST_LEN),
            self.secret.expose()
        )
    }
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("ca_digest", &self.ca_digest)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl FromStr for JoinToken {
    type Err = TokenError;

    fn from_str(text: &str) -> Result<Self, TokenError> {
        let parts: Vec<&str> = text.trim().split('-').collect();
        if parts[0] != TOKEN_PREFIX {
            return Err(TokenError::WrongPrefix {
                found: parts[0].chars().take(16).collect(),
            });
        }
        if parts.len() < 2 || parts[1] != TOKEN_VERSION {
            return Err(TokenError::UnsupportedVersion {
                found: parts.get(1).unwrap_or(&"").chars().take(16).collect(),
            });
        }
        if parts.len() != 4 {
            return Err(TokenError::WrongPartCount { found: parts.len() });
        }
        check_field(parts[2], TokenPart::CaDigest, DIGEST_LEN)?;
        let digest = base36::decode::<32>(parts[2]).ok_or(TokenError::DigestOutOfRange)?;
        Ok(Self {
            ca_digest: CaDigest::from_bytes(digest),
            secret: JoinSecret::parse(parts[3])?,
        })
    }
}

/// Checks a field's length and that it is lower-case base36.
pub(super) fn check_field(field: &str, part: TokenPart, expected: usize) -> Result<(), TokenError> {
    if field.len() != expected {
        return Err(TokenError::BadLength {
            part,
            expected,
            found: field.len(),
        });
    }
    match field.bytes().position(|c| base36::digit_value(c).is_none()) {
        Some(position) => Err(TokenError::BadCharset { part, position }),
        None => Ok(()),
    }
}
