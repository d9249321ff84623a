//! The autolock unlock key: `SWMKEY-1-<base36 of 32 random bytes>`.

use std::str::FromStr;

use zeroize::Zeroizing;

use super::{DataKey, KeyParseError, SealError};
use shoal_model::ids as base36;

/// First field of an unlock key.
pub const UNLOCK_KEY_PREFIX: &str = "SWMKEY";
/// Format version of unlock keys.
pub const UNLOCK_KEY_VERSION: &str = "1";
/// Length of the base36 key field (256 bits need 50 base36 digits).
pub const UNLOCK_KEY_LEN: usize = 50;

/// Associated data binding a wrapped data key to its purpose.
const WRAP_CONTEXT: &[u8] = b"shoal/seal/wrapped-data-key/v1";

/// The key an operator keeps to unlock an autolocked manager.
#[derive(Clone)]
pub struct UnlockKey(DataKey);

impl UnlockKey {
    /// A fresh random unlock key.
    pub fn generate() -> Self {
        Self(DataKey::generate())
    }

    /// The key in its printable `SWMKEY-1-...` form, wiped when dropped.
    pub fn expose(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{UNLOCK_KEY_PREFIX}-{UNLOCK_KEY_VERSION}-{}",
            base36::encode(self.0.expose_bytes(), UNLOCK_KEY_LEN)
        ))
    }

    /// Encrypts `data_key` under this unlock key.
    pub fn wrap(&self, data_key: &DataKey) -> Result<Vec<u8>, SealError> {
        self.0.seal(WRAP_CONTEXT, data_key.expose_bytes())
    }

    /// Decrypts a data key wrapped by [`Self::wrap`].
    pub fn unwrap_key(&self, wrapped: &[u8]) -> Result<DataKey, SealError> {
        let bytes = Zeroizing::new(self.0.open(WRAP_CONTEXT, wrapped).map_err(
            |err| match err {
                SealError::Authentication => SealError::WrongUnlockKey,
                other => other,
            },
        )?);
        let bytes: [u8; 32] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| SealError::MalformedStoredKey {
                    problem: "wrapped key is not 32 bytes",
                })?;
        Ok(DataKey::from_bytes(bytes))
    }
}

impl FromStr for UnlockKey {
    type Err = KeyParseError;

    fn from_str(text: &str) -> Result<Self, KeyParseError> {
        let parts: Vec<&str> = text.trim().split('-').collect();
        if parts[0] != UNLOCK_KEY_PREFIX {
            return Err(KeyParseError::WrongPrefix {
                found: parts[0].chars().take(16).collect(),
            });
        }
        if parts.len() < 2 || parts[1] != UNLOCK_KEY_VERSION {
            return Err(KeyParseError::UnsupportedVersion {
                found: parts.get(1).unwrap_or(&"").chars().take(16).collect(),
            });
        }
        if parts.len() != 3 {
            return Err(KeyParseError::WrongPartCount { found: parts.len() });
        }
        let field = parts[2];
        if field.len() != UNLOCK_KEY_LEN {
            return Err(KeyParseError::BadLength {
                expected: UNLOCK_KEY_LEN,
                found: field.len(),
            });
        }
        if let Some(position) = field.bytes().position(|c| base36::digit_value(c).is_none()) {
            return Err(KeyParseError::BadCharset { position });
        }
        let bytes = Zeroizing::new(base36::decode::<32>(field).ok_or(KeyParseError::OutOfRange)?);
        Ok(Self(DataKey::from_bytes(*bytes)))
    }
}

impl std::fmt::Debug for UnlockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnlockKey(<redacted>)")
    }
}
