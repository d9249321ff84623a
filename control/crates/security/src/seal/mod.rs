//! Encryption at rest for the raft log and snapshots.
//!
//! Records are sealed with a random 32-byte [`DataKey`] using
//! XChaCha20-Poly1305 (random 192-bit nonces, so no nonce bookkeeping).
//! With autolock, the data key is stored only wrapped by an [`UnlockKey`]
//! (`SWMKEY-1-...`) that the operator keeps; the key lives in memory only
//! after `swarm unlock`. Without autolock, it is stored as is (0600).

mod data_key;
mod error;
mod stored;
mod unlock;

pub use data_key::DataKey;
pub use error::{KeyParseError, SealError};
pub use stored::StoredDataKey;
pub use unlock::UnlockKey;

/// Format version byte at the start of every sealed record.
pub const SEAL_VERSION: u8 = 1;
/// XChaCha20 nonce length.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed record adds to its plaintext.
pub const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

#[cfg(test)]
mod tests;
