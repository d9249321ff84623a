//! The desired state `shoal dp apply FILE` takes, as plain serde structs that
//! only serialise the file a test hands to a node. The data plane owns the
//! real type; these mirror its JSON shape so labs can drive it.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::addr::{Cidr, MacAddr};
use crate::lab::Node;

/// UDP port of standard (RFC 7348) VXLAN.
pub const VXLAN_PORT: u16 = 4789;
/// Bytes VXLAN adds to every frame on an IPv4 underlay
/// (outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8); task MTU = underlay MTU − this.
pub const VXLAN_OVERHEAD: u32 = 50;

/// Errors writing a desired-state file.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    /// The state could not be serialised.
    #[error("serialising the desired state")]
    Json(#[source] serde_json::Error),
    /// The file could not be written.
    #[error("writing {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Everything a node's data plane should hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredState {
    /// The node's underlay.
    pub underlay: Underlay,
    /// Overlay networks present on this node.
    pub networks: Vec<Network>,
    /// Task endpoints on this node.
    pub endpoints: Vec<Endpoint>,
    /// Task endpoints on other nodes, reached through the overlay.
    pub remote_endpoints: Vec<RemoteEndpoint>,
}

/// The node's underlay interface and tunnel port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Underlay {
    /// Interface name in the node's namespace (the lab's `eth0`).
    pub iface: String,
    /// UDP destination port of VXLAN frames.
    pub vxlan_port: u16,
}

/// An overlay network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Network {
    /// Network name, referenced by endpoints.
    pub name: String,
    /// VXLAN network identifier (24 bits).
    pub vni: u32,
    /// The network's subnet; its host 1 is the tasks' gateway.
    pub subnet: Cidr,
}

/// A task on this node: shoal creates its veth pair and addresses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Endpoint id, unique on the node.
    pub id: String,
    /// Existing namespace in /run/netns holding the task.
    pub netns: String,
    /// Interface name inside the task namespace.
    pub ifname: String,
    /// Name of the [`Network`] this endpoint joins.
    pub network: String,
    /// Task address (the prefix comes from the network's subnet).
    pub ip: Ipv4Addr,
    /// Task MAC address.
    pub mac: MacAddr,
}

/// A task on another node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteEndpoint {
    /// Name of the [`Network`] the task is on.
    pub network: String,
    /// Task address.
    pub ip: Ipv4Addr,
    /// Task MAC address.
    pub mac: MacAddr,
    /// Underlay address of the node running the task.
    pub node: Ipv4Addr,
}

impl DesiredState {
    /// An empty state on `iface` with the standard VXLAN port.
    pub fn new(iface: &str) -> Self {
        Self {
            underlay: Underlay {
                iface: iface.to_owned(),
                vxlan_port: VXLAN_PORT,
            },
            networks: Vec::new(),
            endpoints: Vec::new(),
            remote_endpoints: Vec::new(),
        }
    }

    /// The state as pretty JSON, as written by [`write_desired_state`].
    pub fn to_json(&self) -> Result<String, DesiredError> {
        serde_json::to_string_pretty(self).map_err(DesiredError::Json)
    }
}

/// Writes `state` as `<node state dir>/<file_name>` and returns the path, ready
/// for `node.shoal(&["dp", "apply", path])`.
pub fn write_desired_state(
    node: &Node,
    file_name: &str,
    state: &DesiredState,
) -> Result<PathBuf, DesiredError> {
    write_json(&node.state_dir().join(file_name), state)
}

fn write_json(path: &Path, state: &DesiredState) -> Result<PathBuf, DesiredError> {
    std::fs::write(path, state.to_json()?).map_err(|source| DesiredError::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> DesiredState {
        let mut state = DesiredState::new("eth0");
        state.networks.push(Network {
            name: "front".into(),
            vni: 4097,
            subnet: "10.10.0.0/24".parse().unwrap(),
        });
        let ip = Ipv4Addr::new(10, 10, 0, 2);
        state.endpoints.push(Endpoint {
            id: "t1".into(),
            netns: "shlab12c-t1".into(),
            ifname: "eth0".into(),
            network: "front".into(),
            ip,
            mac: MacAddr::from_ip(ip),
        });
        let ip = Ipv4Addr::new(10, 10, 0, 3);
        state.remote_endpoints.push(RemoteEndpoint {
            network: "front".into(),
            ip,
            mac: MacAddr::from_ip(ip),
            node: Ipv4Addr::new(198, 18, 0, 12),
        });
        state
    }

    #[test]
    fn json_has_the_dp_apply_shape() {
        let json: serde_json::Value = serde_json::from_str(&example().to_json().unwrap()).unwrap();
        let expected = serde_json::json!({
            "underlay": {"iface": "eth0", "vxlan_port": 4789},
            "networks": [{"name": "front", "vni": 4097, "subnet": "10.10.0.0/24"}],
            "endpoints": [{"id": "t1", "netns": "shlab12c-t1", "ifname": "eth0",
                           "network": "front", "ip": "10.10.0.2", "mac": "02:42:0a:0a:00:02"}],
            "remote_endpoints": [{"network": "front", "ip": "10.10.0.3",
                                  "mac": "02:42:0a:0a:00:03", "node": "198.18.0.12"}]
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn writes_the_file() {
        let path = std::env::temp_dir().join(format!("shoal-desired-{}.json", std::process::id()));
        assert_eq!(write_json(&path, &example()).unwrap(), path);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(text.contains("\"vni\": 4097"));
    }
}
