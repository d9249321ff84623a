//! Join secrets: one for workers, one for managers, compared in constant time.

use std::fmt;

use subtle::ConstantTimeEq;

use super::join_token::check_field;
use super::{JoinToken, SECRET_BYTES, SECRET_LEN, TokenError, TokenPart, base36};
use crate::ca::{CaDigest, Role};

/// One join secret: 25 lower-case base36 characters from 128 random bits.
#[derive(Clone)]
pub struct JoinSecret([u8; SECRET_LEN]);

impl JoinSecret {
    /// A fresh secret from the OS random generator.
    pub fn generate() -> Self {
        let random: [u8; SECRET_BYTES] = rand::random();
        let text = base36::encode(&random, SECRET_LEN);
        let mut bytes = [0u8; SECRET_LEN];
        bytes.copy_from_slice(text.as_bytes());
        Self(bytes)
    }

    /// Parses the secret field of a token (or a stored secret).
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        check_field(text, TokenPart::Secret, SECRET_LEN)?;
        let mut bytes = [0u8; SECRET_LEN];
        bytes.copy_from_slice(text.as_bytes());
        Ok(Self(bytes))
    }

    /// The secret's text, for building a token or storing it encrypted.
    pub fn expose(&self) -> &str {
        // Only ever built from checked base36 ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Constant-time equality, so timing does not leak how much of a guess matched.
    pub fn ct_eq(&self, other: &JoinSecret) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl PartialEq for JoinSecret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other)
    }
}

impl Eq for JoinSecret {}

impl fmt::Debug for JoinSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinSecret(<redacted>)")
    }
}

/// The cluster's current worker and manager join secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinSecrets {
    worker: JoinSecret,
    manager: JoinSecret,
}

impl JoinSecrets {
    /// Fresh, independent secrets for both roles.
    pub fn generate() -> Self {
        Self {
            worker: JoinSecret::generate(),
            manager: JoinSecret::generate(),
        }
    }

    /// Secrets restored from storage.
    pub fn from_parts(worker: JoinSecret, manager: JoinSecret) -> Self {
        Self { worker, manager }
    }

    /// The secret for `role`.
    pub fn secret(&self, role: Role) -> &JoinSecret {
        match role {
            Role::Worker => &self.worker,
            Role::Manager => &self.manager,
        }
    }

    /// The join token for `role` in the cluster whose CA has `ca_digest`.
    pub fn token(&self, role: Role, ca_digest: CaDigest) -> JoinToken {
        JoinToken::new(ca_digest, self.secret(role).clone())
    }

    /// Replaces the secret of `role` (`join-token --rotate`); tokens with the
    /// old secret stop working. The other role's secret is kept.
    pub fn rotate(&mut self, role: Role) {
        match role {
            Role::Worker => self.worker = JoinSecret::generate(),
            Role::Manager => self.manager = JoinSecret::generate(),
        }
    }

    /// Checks a presented token: it must pin `ca_digest` and carry one of the
    /// current secrets. Returns the role the token grants.
    pub fn verify(&self, token: &JoinToken, ca_digest: &CaDigest) -> Result<Role, TokenError> {
        token.check_ca(ca_digest)?;
        // Compare against both before deciding, so timing says nothing either.
        let is_manager = self.manager.ct_eq(token.secret());
        let is_worker = self.worker.ct_eq(token.secret());
        match (is_manager, is_worker) {
            (true, _) => Ok(Role::Manager),
            (false, true) => Ok(Role::Worker),
            (false, false) => Err(TokenError::InvalidSecret),
        }
    }
}
