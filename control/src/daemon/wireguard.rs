//! The node's WireGuard identity: a key pair generated on the node the
//! first time it needs one (swarm init or join), kept next to its TLS key
//! (0600) and never sent anywhere; only the public key and the port go
//! into the node's record, through raft, to the other nodes. On a manager
//! with autolock on, the key is sealed under the data key like the TLS
//! key (the key keeper reseals it when autolock changes), so it is
//! readable only after `swarm unlock`.

use shoal_common::overlay::WG_PORT;
use shoal_dataplane::wg::PrivateKey;

use super::DaemonError;
use super::state::StatePaths;
use crate::ca::persist::{PRIVATE_MODE, write_file_atomic};
use crate::node::NodeWireGuard;
use crate::seal::DataKey;

/// What the sealed key is bound to (a sealed TLS key does not open as it).
const SEALED_CONTEXT: &[u8] = b"shoal/wireguard/sealed-node-key/v1";

/// The node's WireGuard private key: read from its key file (opened with
/// `seal` if it is sealed), or generated and written there if there is
/// none yet.
pub(crate) fn node_key(
    paths: &StatePaths,
    seal: Option<&DataKey>,
) -> Result<PrivateKey, DaemonError> {
    let (key, stored) = read_or_generate(paths, seal)?;
    if !stored {
        store(paths, &key, None)?;
    }
    Ok(key)
}

/// The node's stored WireGuard private key, or a fresh one not yet
/// written (a join writes it only once the manager admitted the node, so
/// a refused join leaves nothing behind); `true` if it was stored.
pub(crate) fn stored_or_new(paths: &StatePaths) -> Result<(PrivateKey, bool), DaemonError> {
    read_or_generate(paths, None)
}

/// The stored key (`true`), or a fresh one not written anywhere.
fn read_or_generate(
    paths: &StatePaths,
    seal: Option<&DataKey>,
) -> Result<(PrivateKey, bool), DaemonError> {
    match read(paths, seal)? {
        Some(key) => Ok((key, true)),
        None => {
            let path = paths.wg_key_file();
            let key = PrivateKey::generate().map_err(DaemonError::io("generate", &path))?;
            Ok((key, false))
        }
    }
}

/// The stored key, if there is one: base64 as written in clear, or sealed
/// bytes opened with `seal`.
fn read(paths: &StatePaths, seal: Option<&DataKey>) -> Result<Option<PrivateKey>, DaemonError> {
    let path = paths.wg_key_file();
    let stored = match std::fs::read(&path) {
        Ok(bytes) => zeroize::Zeroizing::new(bytes),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(DaemonError::io("read", &path)(err)),
    };
    let clear = match std::str::from_utf8(&stored) {
        Ok(text) if PrivateKey::from_base64(text).is_ok() => zeroize::Zeroizing::new(text.into()),
        _ => {
            let data_key =
                seal.ok_or_else(|| DaemonError::SealedWireGuardKey { path: path.clone() })?;
            let opened = zeroize::Zeroizing::new(data_key.open(SEALED_CONTEXT, &stored)?);
            zeroize::Zeroizing::new(String::from_utf8_lossy(&opened).into_owned())
        }
    };
    PrivateKey::from_base64(&clear)
        .map(Some)
        .map_err(|source| DaemonError::BadWireGuardKey { path, source })
}

/// Write the node's WireGuard private key (0600) next to its TLS key:
/// sealed under `seal` when given (autolock), base64 otherwise.
pub(crate) fn store(
    paths: &StatePaths,
    key: &PrivateKey,
    seal: Option<&DataKey>,
) -> Result<(), DaemonError> {
    let dir = paths.cert_dir();
    std::fs::create_dir_all(&dir).map_err(DaemonError::io("create", &dir))?;
    let clear = zeroize::Zeroizing::new(key.to_base64());
    let contents = match seal {
        Some(data_key) => data_key.seal(SEALED_CONTEXT, clear.as_bytes())?,
        None => clear.as_bytes().to_vec(),
    };
    write_file_atomic(&paths.wg_key_file(), &contents, PRIVATE_MODE)?;
    Ok(())
}

/// What the node's record carries of its WireGuard identity.
pub(crate) fn identity(key: &PrivateKey) -> NodeWireGuard {
    NodeWireGuard {
        public_key: key.public_key().to_string(),
        port: WG_PORT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_with_its_data_key_and_is_not_on_disk_in_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = StatePaths::new(dir.path());
        let key = PrivateKey::generate().expect("random");
        let data_key = DataKey::generate();
        store(&paths, &key, Some(&data_key)).expect("store");
        let on_disk = std::fs::read(paths.wg_key_file()).expect("key file");
        let clear = key.to_base64();
        assert!(!on_disk.windows(clear.len()).any(|w| w == clear.as_bytes()));
        let err = node_key(&paths, None).expect_err("sealed without a data key");
        assert!(
            matches!(err, DaemonError::SealedWireGuardKey { .. }),
            "{err}"
        );
        assert!(
            node_key(&paths, Some(&DataKey::generate())).is_err(),
            "another data key"
        );
        let opened = node_key(&paths, Some(&data_key)).expect("opens");
        assert_eq!(opened.public_key(), key.public_key());
        // Autolock off again: stored in clear, read without a data key.
        store(&paths, &key, None).expect("store");
        let again = node_key(&paths, None).expect("plain");
        assert_eq!(again.public_key(), key.public_key());
    }
}
