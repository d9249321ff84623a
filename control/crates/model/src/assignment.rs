//! [`Assignment`] and its parts: what the dispatcher builds for a node and
//! its agent runs.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::cluster::{NetworkRecord, VirtualIp};
use crate::spec::{EndpointMode, PortConfig, Task};

/// Everything one node must run and program into its data plane.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// A digest of the contents: equal versions mean equal assignments.
    pub version: u64,
    /// The node it is for.
    pub node_id: String,
    /// The swarm's VXLAN data-path port.
    pub data_path_port: u16,
    /// This node's tasks that are wanted or still to be stopped: desired
    /// state running (start or keep) or shutdown (stop if still up).
    pub tasks: Vec<AssignedTask>,
    /// The overlay networks this node's tasks are on, and the ingress
    /// network while a service publishes a port through the mesh.
    pub networks: Vec<NetworkRecord>,
    /// Tasks with addresses on other nodes on those networks, for the
    /// overlay's remote endpoints.
    pub remote_tasks: Vec<RemoteTask>,
    /// Underlay addresses of every other node of the swarm (sorted): the
    /// only sources this node accepts VXLAN from.
    #[serde(default)]
    pub peers: Vec<Ipv4Addr>,
    /// The WireGuard peers of encrypted networks: every other node with a
    /// key (sorted by address). A node absent here gets no encrypted
    /// traffic; a removed node's key is gone from the next assignment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wg_peers: Vec<WgPeer>,
    /// The swarm's current preshared key for encrypted networks, mixed
    /// into every WireGuard session: only for a node with a task on an
    /// encrypted network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay_key: Option<AssignedOverlayKey>,
    /// Services to load-balance on this node: those with a VIP or a task on
    /// its networks (VIPs and backends on those networks only), and those
    /// publishing a port through the mesh.
    pub services: Vec<LbService>,
}

impl Assignment {
    /// A digest of the contents (the `version` field aside): FNV-1a over
    /// the JSON, stable across processes and builds. Managers stamp it as
    /// the version; a node checks a rebuilt assignment against it.
    pub fn digest(&self) -> u64 {
        let mut hasher = Fnv64(0xcbf2_9ce4_8422_2325);
        let unversioned = Assignment {
            version: 0,
            ..self.clone()
        };
        // Writing into the hasher cannot fail, and these types always
        // serialise (no maps with non-string keys).
        let _ = serde_json::to_writer(&mut hasher, &unversioned);
        hasher.0
    }
}

/// 64-bit FNV-1a as an `io::Write` sink.
struct Fnv64(u64);

impl std::io::Write for Fnv64 {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Another node's WireGuard identity, as this node needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WgPeer {
    /// The node's underlay address (its WireGuard endpoint's address).
    pub addr: Ipv4Addr,
    /// Its public key, base64.
    pub public_key: String,
    /// Its WireGuard UDP port.
    pub port: u16,
}

/// The encrypted networks' preshared key as a node receives it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedOverlayKey {
    /// Its generation (rotations count up).
    pub generation: u64,
    /// 32 bytes, base64.
    pub key: String,
}

impl std::fmt::Debug for AssignedOverlayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AssignedOverlayKey(generation {})", self.generation)
    }
}

/// A task of this node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignedTask {
    /// The task as stored (desired state, spec, network attachments).
    pub task: Task,
    /// `web.1`: the task's name (its DNS name is `web.1.<task id>`).
    pub name: String,
    /// The secrets its spec names.
    #[serde(default)]
    pub secrets: Vec<AssignedSecret>,
    /// The configs its spec names.
    #[serde(default)]
    pub configs: Vec<AssignedConfig>,
}

/// A config one of this node's tasks uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedConfig {
    /// Its name.
    pub name: String,
    /// The value, base64.
    pub data_b64: String,
}

/// A secret one of this node's tasks uses.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedSecret {
    /// Its name: the file under `/run/secrets`.
    pub name: String,
    /// The value, base64.
    pub data_b64: String,
}

impl std::fmt::Debug for AssignedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssignedSecret")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A task address on another node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteTask {
    /// Network name.
    pub network: String,
    /// The task's address on it.
    pub ip: Ipv4Addr,
    /// Underlay address of the node running it.
    pub node_addr: Ipv4Addr,
}

/// A service as this node's load balancer needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LbService {
    /// Service ID.
    pub id: String,
    /// Service name.
    pub name: String,
    /// Its VIPs.
    pub vips: Vec<VirtualIp>,
    /// Its ports, published ones allocated.
    pub ports: Vec<PortConfig>,
    /// Its tasks that may get connections (or are draining).
    pub backends: Vec<LbBackend>,
    /// How its name resolves: to its VIPs, or (dnsrr) to its tasks.
    #[serde(default)]
    pub endpoint_mode: EndpointMode,
    /// More names of the service, per network: resolved only there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, Vec<String>>,
}

/// One backend of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LbBackend {
    /// The task.
    pub task_id: String,
    /// Network name.
    pub network: String,
    /// The task's address on it.
    pub ip: Ipv4Addr,
    /// Desired shutdown but still running: keeps its flows, gets no new
    /// ones.
    pub draining: bool,
    /// `web.1.<task id>`: the task's container name in DNS.
    #[serde(default)]
    pub task_name: String,
    /// The container's hostname, also a DNS name of the task.
    #[serde(default)]
    pub hostname: String,
}
