//! Join tokens in Swarm's shape: `SWMTKN-1-<ca digest>-<secret>`.
//!
//! The CA digest (SHA-256 of the root CA certificate, base36, 50 chars) lets
//! a joining node verify the manager before sending anything secret; the
//! secret (128 random bits, base36, 25 chars) says which role it may join as.
//! Workers and managers have separate secrets; rotating one invalidates every
//! token carrying the old secret.

pub use shoal_model::ids as base36;
mod error;
mod join_token;
mod secrets;

pub use error::{TokenError, TokenPart};
pub use join_token::JoinToken;
pub use secrets::{JoinSecret, JoinSecrets};

/// First dash-separated field of every join token.
pub const TOKEN_PREFIX: &str = "SWMTKN";
/// The token format version this code writes and reads.
pub const TOKEN_VERSION: &str = "1";
/// Length of the base36 CA digest field (SHA-256 needs 50 base36 digits).
pub const DIGEST_LEN: usize = 50;
/// Length of the base36 secret field (128 bits need 25 base36 digits).
pub const SECRET_LEN: usize = 25;
/// Random bytes behind a secret.
pub const SECRET_BYTES: usize = 16;

#[cfg(test)]
mod tests;
