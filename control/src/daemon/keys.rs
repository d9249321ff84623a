//! Keeps a manager's stored data key in step with the swarm's autolock
//! setting: wrapped by the current unlock key while autolock is on (and
//! re-wrapped when the key rotates), plain (0600) otherwise. The node's
//! TLS key follows: sealed under the data key while autolock is on (so it
//! is readable only after `swarm unlock`), PEM otherwise.

use std::sync::Arc;

use super::core::Manager;
use super::state::StatePaths;
use super::{DaemonError, wireguard};
use crate::ca::NodeKey;
use crate::ca::persist::save_node_key;
use crate::cluster::{CLUSTER, ClusterRecord};
use crate::seal::{DataKey, StoredDataKey, UnlockKey};
use shoal_dataplane::wg::PrivateKey;

/// Writes the data key as `cluster` wants it stored.
pub(crate) fn store_data_key(
    paths: &StatePaths,
    key: &DataKey,
    cluster: &ClusterRecord,
) -> Result<(), DaemonError> {
    let unlock = match cluster.autolock {
        true => parse_unlock_key(cluster.unlock_key.as_deref())?,
        false => None,
    };
    paths.save_dek(&StoredDataKey::new(key, unlock.as_ref())?)
}

/// Writes the node's TLS key as `cluster` wants it stored: sealed under
/// `data_key` while autolock is on.
pub(crate) fn store_node_key(
    paths: &StatePaths,
    node_key: &NodeKey,
    data_key: &DataKey,
    cluster: &ClusterRecord,
) -> Result<(), DaemonError> {
    let seal = cluster.autolock.then_some(data_key);
    Ok(save_node_key(node_key, &paths.cert_dir(), seal)?)
}

/// Parses an optional unlock key (`SWMKEY-1-...`) as the cluster record or
/// a join grant carries it.
pub(crate) fn parse_unlock_key(text: Option<&str>) -> Result<Option<UnlockKey>, DaemonError> {
    text.map(str::parse::<UnlockKey>)
        .transpose()
        .map_err(|source| DaemonError::BadUnlockKey { source })
}

/// The node's private keys the keeper stores as autolock wants them.
pub(crate) struct NodeKeys {
    /// The TLS key.
    pub(crate) tls: Arc<NodeKey>,
    /// The WireGuard key, if the node has one.
    pub(crate) wireguard: Option<PrivateKey>,
}

impl NodeKeys {
    /// Stores both: sealed under `data_key` while autolock is on.
    fn store(
        &self,
        paths: &StatePaths,
        data_key: &DataKey,
        cluster: &ClusterRecord,
    ) -> Result<(), DaemonError> {
        store_node_key(paths, &self.tls, data_key, cluster)?;
        match &self.wireguard {
            Some(key) => wireguard::store(paths, key, cluster.autolock.then_some(data_key)),
            None => Ok(()),
        }
    }
}

/// Watches the cluster record and rewrites the stored data key (and the
/// node's keys) whenever autolock or the unlock key changes.
pub(crate) async fn keeper(
    manager: Arc<Manager>,
    paths: StatePaths,
    key: DataKey,
    node_keys: NodeKeys,
) {
    let (_, mut changes) = manager.store().snapshot_and_watch();
    let mut current: Option<(bool, Option<String>)> = None;
    loop {
        if let Ok(cluster) = manager.cluster() {
            let wanted = (cluster.autolock, cluster.unlock_key.clone());
            if current.as_ref() != Some(&wanted) {
                let stored = store_data_key(&paths, &key, &cluster)
                    .and_then(|()| node_keys.store(&paths, &key, &cluster));
                match stored {
                    Ok(()) => current = Some(wanted),
                    Err(err) => log::warn!("cannot store the data key: {}", err.full_message()),
                }
            }
        }
        // Wait for the next change to the cluster record.
        loop {
            match changes.recv().await {
                Ok(applied) if applied.changes.iter().any(|c| c.table() == CLUSTER) => break,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
