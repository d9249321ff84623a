//! Typed rows of the service tables, loaded from a store snapshot, and the
//! diff that turns changed rows back into one store proposal.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ManagerError;
use crate::allocator::Allocator;
use shoal_model::cluster::{
    ALLOCATOR, ALLOCATOR_KEY, CLUSTER, CLUSTER_KEY, CONFIGS, ClusterRecord, ConfigRecord,
    DEFAULT_KEY_ROTATION_SECS, ENDPOINTS, NETWORKS, NODES, NetworkRecord, NodeRecord, OVERLAY_KEYS,
    OVERLAY_KEYS_KEY, OverlayKeyRing, REMOVED, SECRETS, SERVICES, SecretRecord, ServiceEndpoint,
    TASKS,
};
use shoal_model::spec::{Service, Task};
use shoal_raft::{Command, Tables};

/// The rows one manager pass or API operation works on.
#[derive(Debug, Clone, Default)]
pub struct ClusterTables {
    /// Nodes by ID (read only: heartbeats own them).
    pub nodes: BTreeMap<String, NodeRecord>,
    /// Services by ID.
    pub services: BTreeMap<String, Service>,
    /// Tasks by ID.
    pub tasks: BTreeMap<String, Task>,
    /// Networks by ID.
    pub networks: BTreeMap<String, NetworkRecord>,
    /// Endpoints by service ID.
    pub endpoints: BTreeMap<String, ServiceEndpoint>,
    /// Secrets by ID.
    pub secrets: BTreeMap<String, SecretRecord>,
    /// Configs by ID.
    pub configs: BTreeMap<String, ConfigRecord>,
    /// The allocator, when its row exists (`None` before the first pass of
    /// a new swarm).
    pub allocator: Option<Allocator>,
    /// The allocator's row exists but does not decode.
    pub allocator_unreadable: bool,
    /// The swarm's data-path (VXLAN) port, from the cluster row (read only).
    pub data_path_port: Option<u16>,
    /// The encrypted networks' key ring (`None` until the first encrypted
    /// network).
    pub overlay_keys: Option<OverlayKeyRing>,
    /// Seconds between scheduled key rotations, from the cluster row (read
    /// only).
    pub key_rotation_secs: u64,
    /// When the latest node was removed (seconds since the epoch; read
    /// only).
    pub last_removal: Option<u64>,
}

impl ClusterTables {
    /// Decodes the service tables of `tables`. Rows that do not decode are
    /// logged and left out (and so never rewritten or deleted by a diff).
    pub fn load(tables: &Tables) -> ClusterTables {
        let allocator = decode_row(tables, ALLOCATOR, ALLOCATOR_KEY);
        let allocator_present = tables
            .get(ALLOCATOR)
            .is_some_and(|rows| rows.contains_key(ALLOCATOR_KEY));
        let cluster = decode_row::<ClusterRecord>(tables, CLUSTER, CLUSTER_KEY);
        let removed: BTreeMap<String, u64> = decode_table(tables, REMOVED);
        ClusterTables {
            nodes: decode_table(tables, NODES),
            services: decode_table(tables, SERVICES),
            tasks: decode_table(tables, TASKS),
            networks: decode_table(tables, NETWORKS),
            endpoints: decode_table(tables, ENDPOINTS),
            secrets: decode_table(tables, SECRETS),
            configs: decode_table(tables, CONFIGS),
            allocator_unreadable: allocator_present && allocator.is_none(),
            allocator,
            data_path_port: cluster.as_ref().map(|c| c.data_path_port),
            overlay_keys: decode_row(tables, OVERLAY_KEYS, OVERLAY_KEYS_KEY),
            key_rotation_secs: cluster.map_or(DEFAULT_KEY_ROTATION_SECS, |c| c.key_rotation_secs),
            last_removal: removed.into_values().max(),
        }
    }

    /// The ports the swarm itself uses, each with what uses it: every
    /// node's control port (its advertised address: heartbeats, joins,
    /// raft) and the data-path port. A published port on one of them would
    /// let the routing mesh capture the swarm's own traffic.
    pub fn swarm_ports(&self) -> BTreeMap<u16, String> {
        let mut ports = BTreeMap::new();
        if let Some(port) = self.data_path_port {
            ports.insert(port, "the data-path (VXLAN) port".to_owned());
        }
        for node in self.nodes.values() {
            let port = node.addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
            if let Some(port) = port {
                ports.entry(port).or_insert_with(|| {
                    format!("the control port of node {} ({})", node.hostname, node.addr)
                });
            }
        }
        ports
    }

    /// The network named `name`.
    pub fn network_named(&self, name: &str) -> Option<&NetworkRecord> {
        self.networks.values().find(|network| network.name == name)
    }

    /// The secret named `name`.
    pub fn secret_named(&self, name: &str) -> Option<&SecretRecord> {
        self.secrets.values().find(|secret| secret.name == name)
    }

    /// The config named `name`.
    pub fn config_named(&self, name: &str) -> Option<&ConfigRecord> {
        self.configs.values().find(|config| config.name == name)
    }

    /// The service named `name`.
    pub fn service_named(&self, name: &str) -> Option<&Service> {
        self.services
            .values()
            .find(|service| service.spec.name == name)
    }

    /// The commands that turn `before` into `self`: a put for every row that
    /// is new or changed, a delete for every decoded row that is gone.
    pub fn diff(&self, before: &ClusterTables) -> Result<Vec<Command>, ManagerError> {
        let mut commands = Vec::new();
        diff_table(SERVICES, &before.services, &self.services, &mut commands)?;
        diff_table(TASKS, &before.tasks, &self.tasks, &mut commands)?;
        diff_table(NETWORKS, &before.networks, &self.networks, &mut commands)?;
        diff_table(ENDPOINTS, &before.endpoints, &self.endpoints, &mut commands)?;
        diff_table(SECRETS, &before.secrets, &self.secrets, &mut commands)?;
        diff_table(CONFIGS, &before.configs, &self.configs, &mut commands)?;
        if let Some(allocator) = &self.allocator
            && before.allocator.as_ref() != Some(allocator)
        {
            commands.push(put(ALLOCATOR, ALLOCATOR_KEY, allocator)?);
        }
        if let Some(ring) = &self.overlay_keys
            && before.overlay_keys.as_ref() != Some(ring)
        {
            commands.push(put(OVERLAY_KEYS, OVERLAY_KEYS_KEY, ring)?);
        }
        Ok(commands)
    }
}

/// A put of `value` as JSON.
pub fn put<T: Serialize>(table: &str, key: &str, value: &T) -> Result<Command, ManagerError> {
    Ok(Command::Put {
        table: table.to_owned(),
        key: key.to_owned(),
        value: serde_json::to_value(value).map_err(|source| ManagerError::Encode { source })?,
    })
}

fn diff_table<T: Serialize + PartialEq>(
    table: &str,
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
    commands: &mut Vec<Command>,
) -> Result<(), ManagerError> {
    for (key, row) in after {
        if before.get(key) != Some(row) {
            commands.push(put(table, key, row)?);
        }
    }
    let kept: BTreeSet<&String> = after.keys().collect();
    for key in before.keys().filter(|key| !kept.contains(key)) {
        commands.push(Command::Delete {
            table: table.to_owned(),
            key: key.clone(),
        });
    }
    Ok(())
}

fn decode_table<T: DeserializeOwned>(tables: &Tables, table: &str) -> BTreeMap<String, T> {
    let Some(rows) = tables.get(table) else {
        return BTreeMap::new();
    };
    rows.iter()
        .filter_map(|(key, value)| match serde_json::from_value(value.clone()) {
            Ok(row) => Some((key.clone(), row)),
            Err(err) => {
                log::warn!("skipping undecodable {table} row {key}: {err}");
                None
            }
        })
        .collect()
}

fn decode_row<T: DeserializeOwned>(tables: &Tables, table: &str, key: &str) -> Option<T> {
    let value = tables.get(table)?.get(key)?;
    match serde_json::from_value(value.clone()) {
        Ok(row) => Some(row),
        Err(err) => {
            log::warn!("skipping undecodable {table} row {key}: {err}");
            None
        }
    }
}

/// Finds the object `query` names, as Docker resolves references: an exact
/// ID, then an exact name, then a unique ID prefix.
pub fn resolve<'a, T>(
    rows: &'a BTreeMap<String, T>,
    query: &str,
    kind: &'static str,
    name_of: impl Fn(&T) -> &str,
) -> Result<&'a T, ManagerError> {
    if let Some(row) = rows.get(query) {
        return Ok(row);
    }
    if let Some(row) = rows.values().find(|row| name_of(row) == query) {
        return Ok(row);
    }
    let matches: Vec<&T> = if query.is_empty() {
        Vec::new()
    } else {
        rows.iter()
            .filter(|(id, _)| id.starts_with(query))
            .map(|(_, row)| row)
            .collect()
    };
    match matches.as_slice() {
        [] => Err(ManagerError::NotFound {
            kind,
            query: query.to_owned(),
        }),
        [one] => Ok(one),
        many => Err(ManagerError::Ambiguous {
            kind,
            query: query.to_owned(),
            matches: many.len(),
        }),
    }
}
