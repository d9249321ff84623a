//! Rows of the service tables: what the manager components (allocator,
//! orchestrator, scheduler, dispatcher) read and write through the store.
//!
//! Services and tasks are the [`crate::spec`] types stored as they are;
//! this module adds the table names and the rows that have no spec type.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::spec::PortConfig;

/// Table of services: service ID → [`crate::spec::Service`].
pub const SERVICES: &str = "services";
/// Table of tasks: task ID → [`crate::spec::Task`] (terminal tasks stay
/// as history, a few per slot).
pub const TASKS: &str = "tasks";
/// Table of networks: network ID → [`NetworkRecord`].
pub const NETWORKS: &str = "networks";
/// Table of service endpoints: service ID → [`ServiceEndpoint`] (written
/// by the allocator once the service's VIPs and ports are allocated).
pub const ENDPOINTS: &str = "endpoints";
/// Table holding the allocator's state: [`ALLOCATOR_KEY`] →
/// the `Allocator` of `shoal-manager`.
pub const ALLOCATOR: &str = "allocator";
/// Key of the allocator's row in [`ALLOCATOR`].
pub const ALLOCATOR_KEY: &str = "state";
/// Table of secrets: secret ID → [`SecretRecord`].
pub const SECRETS: &str = "secrets";
/// Table of configs: config ID → [`ConfigRecord`].
pub const CONFIGS: &str = "configs";

/// Name of the network every service with published ingress ports joins
/// (created with the swarm, as Docker's `ingress`).
pub const INGRESS_NETWORK: &str = "ingress";

/// An overlay network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// Network ID.
    pub id: String,
    /// Unique name (what services' `--network` names).
    pub name: String,
    /// Driver: always `overlay` for now.
    pub driver: String,
    /// VXLAN network identifier (from the allocator).
    pub vni: u32,
    /// IPv4 subnet, `a.b.c.d/len`.
    pub subnet: String,
    /// Gateway address (the subnet's first host; never a task's).
    pub gateway: Ipv4Addr,
    /// `--opt encrypted`: traffic between nodes goes through WireGuard.
    #[serde(default)]
    pub encrypted: bool,
    /// `--internal`: its tasks reach nothing outside the cluster through
    /// it (no egress, Docker's semantics).
    #[serde(default)]
    pub internal: bool,
    /// The routing mesh's network ([`INGRESS_NETWORK`]).
    #[serde(default)]
    pub ingress: bool,
    /// Operator labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Creation time (seconds since the epoch).
    pub created_at: u64,
}

/// A service's virtual IP on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualIp {
    /// Network name.
    pub network: String,
    /// The VIP.
    pub ip: Ipv4Addr,
}

/// What the allocator gave a service: VIPs (endpoint mode `vip`) and its
/// ports with the published ports filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEndpoint {
    /// The service.
    pub service_id: String,
    /// One VIP per network the service is on (empty in `dnsrr` mode).
    #[serde(default)]
    pub vips: Vec<VirtualIp>,
    /// The spec's ports, `published` set (dynamic ones allocated).
    #[serde(default)]
    pub ports: Vec<PortConfig>,
    /// The service version this allocation was made for.
    pub spec_version: u64,
}

/// A secret. The store is sealed at rest; the value reaches only the nodes
/// running a task that uses it, and only that task's `/run/secrets`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    /// Secret ID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The value, base64 (standard alphabet, padded).
    pub data_b64: String,
    /// Operator labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Creation time (seconds since the epoch).
    pub created_at: u64,
}

impl std::fmt::Debug for SecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the value.
        f.debug_struct("SecretRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("len", &self.data_b64.len())
            .finish()
    }
}

/// A config: like a secret, a named value given to the tasks that use it,
/// but not secret (inspect shows it) and placed anywhere in the task.
/// The value never changes; only the labels do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRecord {
    /// Config ID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The value, base64 (standard alphabet, padded).
    pub data_b64: String,
    /// Operator labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Creation time (seconds since the epoch).
    pub created_at: u64,
    /// Time of the last label change (the creation time until one).
    pub updated_at: u64,
    /// Bumped by every label change (Docker's object version: an update
    /// names the version it read).
    pub version: u64,
}
