//! WireGuard key pairs (Curve25519), written as base64 like `wg` does.

use std::{fmt, str::FromStr};

use base64::{Engine, engine::general_purpose::STANDARD};
use boringtun::x25519;

/// Errors parsing a key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not base64 of exactly 32 bytes.
    #[error("not a WireGuard key (base64 of 32 bytes)")]
    Malformed,
}

/// A node's private key. Never printed; only its public half leaves the
/// node.
#[derive(Clone)]
pub struct PrivateKey(x25519::StaticSecret);

impl PrivateKey {
    /// A fresh random key from the kernel's CSPRNG.
    pub fn generate() -> Result<PrivateKey, std::io::Error> {
        let mut bytes = [0u8; 32];
        let mut filled = 0;
        while filled < bytes.len() {
            let rest = &mut bytes[filled..];
            // SAFETY: writes at most `rest.len()` bytes into `rest`.
            let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() != std::io::ErrorKind::Interrupted {
                    return Err(err);
                }
                continue;
            }
            filled += n as usize;
        }
        Ok(PrivateKey(x25519::StaticSecret::from(bytes)))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(x25519::PublicKey::from(&self.0))
    }

    /// Base64 of the key, for the node's key file only.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.to_bytes())
    }

    /// The key from its base64 form.
    pub fn from_base64(text: &str) -> Result<PrivateKey, KeyError> {
        Ok(PrivateKey(x25519::StaticSecret::from(decode(text)?)))
    }

    pub(crate) fn secret(&self) -> x25519::StaticSecret {
        self.0.clone()
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

/// A node's public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(x25519::PublicKey);

impl PublicKey {
    pub(crate) fn key(&self) -> x25519::PublicKey {
        self.0
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<PublicKey, KeyError> {
        Ok(PublicKey(x25519::PublicKey::from(decode(text)?)))
    }
}

/// The swarm's preshared key for encrypted networks, with its generation
/// (1 for the first key; rotations count up).
#[derive(Clone, PartialEq, Eq)]
pub struct PresharedKey {
    /// Which rotation made it.
    pub generation: u64,
    pub(crate) key: [u8; 32],
}

impl PresharedKey {
    /// The key of `generation` from its base64 form.
    pub fn from_base64(generation: u64, text: &str) -> Result<PresharedKey, KeyError> {
        Ok(PresharedKey {
            generation,
            key: decode(text)?,
        })
    }
}

impl fmt::Debug for PresharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresharedKey(generation {})", self.generation)
    }
}

fn decode(text: &str) -> Result<[u8; 32], KeyError> {
    STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(KeyError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_base64() {
        let key = PrivateKey::generate().expect("random");
        let again = PrivateKey::from_base64(&key.to_base64()).expect("parses");
        assert_eq!(key.public_key(), again.public_key());
        let public: PublicKey = key.public_key().to_string().parse().expect("parses");
        assert_eq!(public, key.public_key());
        assert_eq!("AAAA".parse::<PublicKey>(), Err(KeyError::Malformed));
    }
}
