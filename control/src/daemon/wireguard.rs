//! The node's WireGuard identity: a key pair generated on the node the
//! first time it needs one (swarm init or join), kept next to its TLS key
//! (0600) and never sent anywhere; only the public key and the port go
//! into the node's record, through raft, to the other nodes.

use shoal_common::overlay::WG_PORT;
use shoal_dataplane::wg::PrivateKey;

use super::DaemonError;
use super::state::StatePaths;
use crate::ca::persist::{PRIVATE_MODE, write_file_atomic};
use crate::node::NodeWireGuard;

/// The node's WireGuard private key: read from its key file, or generated
/// and written there if there is none yet.
pub(crate) fn node_key(paths: &StatePaths) -> Result<PrivateKey, DaemonError> {
    let (key, stored) = stored_or_new(paths)?;
    if !stored {
        store(paths, &key)?;
    }
    Ok(key)
}

/// The node's stored WireGuard private key, or a fresh one not yet
/// written (a join writes it only once the manager admitted the node, so
/// a refused join leaves nothing behind); `true` if it was stored.
pub(crate) fn stored_or_new(paths: &StatePaths) -> Result<(PrivateKey, bool), DaemonError> {
    let path = paths.wg_key_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => PrivateKey::from_base64(&text)
            .map(|key| (key, true))
            .map_err(|source| DaemonError::BadWireGuardKey { path, source }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = PrivateKey::generate().map_err(DaemonError::io("generate", &path))?;
            Ok((key, false))
        }
        Err(err) => Err(DaemonError::io("read", &path)(err)),
    }
}

/// Write the node's WireGuard private key (0600) next to its TLS key.
pub(crate) fn store(paths: &StatePaths, key: &PrivateKey) -> Result<(), DaemonError> {
    let dir = paths.cert_dir();
    std::fs::create_dir_all(&dir).map_err(DaemonError::io("create", &dir))?;
    write_file_atomic(
        &paths.wg_key_file(),
        key.to_base64().as_bytes(),
        PRIVATE_MODE,
    )?;
    Ok(())
}

/// What the node's record carries of its WireGuard identity.
pub(crate) fn identity(key: &PrivateKey) -> NodeWireGuard {
    NodeWireGuard {
        public_key: key.public_key().to_string(),
        port: WG_PORT,
    }
}
