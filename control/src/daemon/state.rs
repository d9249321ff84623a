//! What a node keeps in its state directory:
//!
//! ```text
//! DIR/node.json                 identity and addresses (no secrets)
//! DIR/certificates/             CA certificate, node certificate and key (0600),
//!                               WireGuard private key (wireguard.key, 0600)
//! DIR/raft.dek                  managers: the data key, plain (0600) or wrapped by the unlock key
//! DIR/raft/raft.redb            managers: the sealed raft log, state machine and snapshots
//! ```
//!
//! The CA key is not here: it lives in the (sealed) raft store.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DaemonError;
use crate::ca::persist::{PRIVATE_MODE, PUBLIC_MODE, write_file_atomic};
use crate::cluster::NodeRole;
use crate::seal::StoredDataKey;

/// Paths inside a node's state directory.
#[derive(Debug, Clone)]
pub struct StatePaths {
    dir: PathBuf,
}

impl StatePaths {
    /// Paths under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The identity file.
    pub fn node_file(&self) -> PathBuf {
        self.dir.join("node.json")
    }

    /// The node's WireGuard private key (0600, base64), next to its TLS
    /// key; removed with it by [`StatePaths::wipe`].
    pub fn wg_key_file(&self) -> PathBuf {
        self.cert_dir().join("wireguard.key")
    }

    /// The certificate directory.
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.join("certificates")
    }

    /// The raft data directory.
    pub fn raft_dir(&self) -> PathBuf {
        self.dir.join("raft")
    }

    /// The node's registry logins (`shoal login`, 0600); kept by
    /// `swarm leave`.
    pub fn registry_auth_file(&self) -> PathBuf {
        self.dir.join("registry-auth.json")
    }

    /// Operator CAs per registry, Docker's layout:
    /// `certs.d/<host[:port]>/*.crt`; kept by `swarm leave`.
    pub fn registry_certs_dir(&self) -> PathBuf {
        self.dir.join("certs.d")
    }

    /// The stored data key.
    pub fn dek_file(&self) -> PathBuf {
        self.dir.join("raft.dek")
    }

    /// Removes everything the swarm left here (after `swarm leave` or a
    /// failed init/join); other files in the directory are kept.
    pub fn wipe(&self) -> Result<(), DaemonError> {
        for dir in [self.cert_dir(), self.raft_dir()] {
            match std::fs::remove_dir_all(&dir) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(DaemonError::io("remove", dir)(err));
                }
                _ => {}
            }
        }
        for file in [self.node_file(), self.dek_file()] {
            match std::fs::remove_file(&file) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(DaemonError::io("remove", file)(err));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes the stored data key (0600).
    pub fn save_dek(&self, key: &StoredDataKey) -> Result<(), DaemonError> {
        write_file_atomic(&self.dek_file(), &key.to_bytes(), PRIVATE_MODE)?;
        Ok(())
    }

    /// Reads the stored data key.
    pub fn load_dek(&self) -> Result<StoredDataKey, DaemonError> {
        let path = self.dek_file();
        let bytes =
            zeroize::Zeroizing::new(std::fs::read(&path).map_err(DaemonError::io("read", path))?);
        Ok(StoredDataKey::from_bytes(&bytes)?)
    }
}

/// The node's identity in the swarm, as saved in `node.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// Node ID (certificate CN).
    pub node_id: String,
    /// Raft ID.
    pub raft_id: u64,
    /// The node's name.
    pub hostname: String,
    /// Cluster ID.
    pub cluster_id: String,
    /// Role of the certificate in force.
    pub role: NodeRole,
    /// Where a manager's control listener binds.
    pub listen_addr: String,
    /// The address other nodes dial (`ip:port`).
    pub advertise_addr: String,
    /// Control addresses of managers last known (where workers heartbeat).
    pub managers: Vec<String>,
    /// Lifetime of node certificates, seconds.
    pub cert_expiry_secs: u64,
}

impl NodeState {
    /// Saves to `node.json` (0644: no secrets).
    pub fn save(&self, paths: &StatePaths) -> Result<(), DaemonError> {
        let json = serde_json::to_vec_pretty(self).map_err(DaemonError::codec("node state"))?;
        write_file_atomic(&paths.node_file(), &json, PUBLIC_MODE)?;
        Ok(())
    }

    /// Loads `node.json`; `None` when the node is in no swarm.
    pub fn load(paths: &StatePaths) -> Result<Option<Self>, DaemonError> {
        let path = paths.node_file();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(DaemonError::codec("node state")),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(DaemonError::io("read", path)(err)),
        }
    }
}
