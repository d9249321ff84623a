//! How the data key is kept on disk: plain (no autolock) or wrapped.

use zeroize::Zeroizing;

use super::{DataKey, SealError, UnlockKey};

/// Magic at the start of a stored data key record.
const MAGIC: &[u8; 8] = b"SHOALDEK";
const TAG_PLAIN: u8 = 0;
const TAG_WRAPPED: u8 = 1;

/// The data key as persisted next to the raft state.
#[derive(Debug, Clone)]
pub enum StoredDataKey {
    /// Autolock off: the key itself (the file must be 0600).
    Plain(DataKey),
    /// Autolock on: the key wrapped by the unlock key.
    Wrapped(Vec<u8>),
}

impl StoredDataKey {
    /// Stores `key`, wrapped by `unlock` if autolock is on.
    pub fn new(key: &DataKey, unlock: Option<&UnlockKey>) -> Result<Self, SealError> {
        Ok(match unlock {
            Some(unlock) => Self::Wrapped(unlock.wrap(key)?),
            None => Self::Plain(key.clone()),
        })
    }

    /// Recovers the data key; a wrapped key needs the unlock key.
    pub fn unlock(&self, unlock: Option<&UnlockKey>) -> Result<DataKey, SealError> {
        match (self, unlock) {
            (Self::Plain(key), _) => Ok(key.clone()),
            (Self::Wrapped(wrapped), Some(unlock)) => unlock.unwrap_key(wrapped),
            (Self::Wrapped(_), None) => Err(SealError::Locked),
        }
    }

    /// Serialises as `MAGIC || tag || payload` (wiped when dropped: it may
    /// hold the plain key).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let (tag, payload): (u8, &[u8]) = match self {
            Self::Plain(key) => (TAG_PLAIN, key.expose_bytes()),
            Self::Wrapped(wrapped) => (TAG_WRAPPED, wrapped),
        };
        let mut bytes = Vec::with_capacity(MAGIC.len() + 1 + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.push(tag);
        bytes.extend_from_slice(payload);
        Zeroizing::new(bytes)
    }

    /// Parses [`Self::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or(SealError::MalformedStoredKey {
                problem: "missing SHOALDEK header",
            })?;
        match rest.split_first() {
            Some((&TAG_PLAIN, key)) => {
                let key: [u8; 32] = key.try_into().map_err(|_| SealError::MalformedStoredKey {
                    problem: "plain key is not 32 bytes",
                })?;
                Ok(Self::Plain(DataKey::from_bytes(key)))
            }
            Some((&TAG_WRAPPED, wrapped)) => Ok(Self::Wrapped(wrapped.to_vec())),
            _ => Err(SealError::MalformedStoredKey {
                problem: "unknown key kind",
            }),
        }
    }
}
