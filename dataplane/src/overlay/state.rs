//! The overlay's desired state for one node: one serialisable value that
//! `shoal dp apply` (and later the agent) hands to [`super::apply`].

use std::{collections::HashSet, fmt, net::Ipv4Addr, str::FromStr};

use serde::{Deserialize, Serialize};
use shoal_common::overlay::{VNI_MAX, VXLAN_PORT};

use crate::lb::state::{ConntrackSpec, LbStateError, PublishedPort, ServiceSpec};

/// Everything the overlay of one node should hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredState {
    /// The node's underlay.
    pub underlay: Underlay,
    /// Overlay networks this node takes part in.
    #[serde(default)]
    pub networks: Vec<NetworkSpec>,
    /// Task interfaces on this node.
    #[serde(default)]
    pub endpoints: Vec<LocalEndpoint>,
    /// Tasks on other nodes this node must reach.
    #[serde(default)]
    pub remote_endpoints: Vec<RemoteEndpoint>,
    /// Services this node load-balances ([`crate::lb::state`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceSpec>,
    /// Ports published on this node's addresses (the routing mesh).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<PublishedPort>,
    /// Conntrack timeouts; absent or 0: the defaults.
    #[serde(default, skip_serializing_if = "ConntrackSpec::is_default")]
    pub conntrack: ConntrackSpec,
}

/// The node's underlay NIC and VXLAN settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Underlay {
    /// Underlay interface name.
    pub iface: String,
    /// This node's underlay address; defaults to the interface's first IPv4.
    #[serde(default)]
    pub addr: Option<Ipv4Addr>,
    /// VXLAN data-path port (`--data-path-port`).
    #[serde(default = "default_vxlan_port")]
    pub vxlan_port: u16,
}

fn default_vxlan_port() -> u16 {
    VXLAN_PORT
}

/// An overlay network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Network name, unique on the node.
    pub name: String,
    /// VXLAN network identifier, 1..=16777215.
    pub vni: u32,
    /// The network's IPv4 subnet; `.1` is the gateway.
    pub subnet: Subnet,
}

/// A task interface on this node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalEndpoint {
    /// Endpoint id (task id + network), unique on the node.
    pub id: String,
    /// The task's network namespace: a name under /run/netns or a process id.
    pub netns: String,
    /// Interface name inside the task.
    #[serde(default = "default_ifname")]
    pub ifname: String,
    /// Network name.
    pub network: String,
    /// The task's address.
    pub ip: Ipv4Addr,
    /// The task interface's MAC; defaults to `02:42:` + the IPv4 address.
    #[serde(default)]
    pub mac: Option<Mac>,
}

fn default_ifname() -> String {
    "eth0".to_owned()
}

/// A task on another node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteEndpoint {
    /// Network name.
    pub network: String,
    /// The task's address.
    pub ip: Ipv4Addr,
    /// The task interface's MAC; defaults to `02:42:` + the IPv4 address.
    #[serde(default)]
    pub mac: Option<Mac>,
    /// Underlay address of the node hosting it.
    pub node: Ipv4Addr,
}

/// Errors in a desired state; nothing is applied when one is found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    /// A field failed to parse.
    #[error("invalid {what} {value:?}: {why}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// The rejected text.
        value: String,
        /// Why.
        why: &'static str,
    },
    /// Two items share what must be unique.
    #[error("duplicate {what} {value}")]
    Duplicate {
        /// What is duplicated.
        what: &'static str,
        /// The duplicated value.
        value: String,
    },
    /// An endpoint names a network the state does not define.
    #[error("endpoint {endpoint}: no network named {network:?}")]
    UnknownNetwork {
        /// Endpoint id or address.
        endpoint: String,
        /// The missing network.
        network: String,
    },
    /// An endpoint address that cannot be a task's.
    #[error("endpoint {endpoint}: {ip} is not a usable host address of {network} ({subnet})")]
    AddressOutsideSubnet {
        /// Endpoint id or address.
        endpoint: String,
        /// The address.
        ip: Ipv4Addr,
        /// Network name.
        network: String,
        /// Its subnet.
        subnet: Subnet,
    },
    /// The services part is invalid.
    #[error(transparent)]
    Lb(#[from] LbStateError),
}

/// An IPv4 subnet, `a.b.c.d/len` with the host bits zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    /// Network address.
    pub addr: Ipv4Addr,
    /// Prefix length, 8..=30.
    pub prefix_len: u8,
}

impl Subnet {
    /// The netmask.
    pub fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::MAX << (32 - u32::from(self.prefix_len)))
    }

    /// The gateway address every task routes through: the first host.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + 1)
    }

    /// Whether `ip` is a host address a task may use (not the network,
    /// broadcast or gateway address).
    pub fn is_task_address(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::from(self.mask());
        let host = u32::from(ip) & !mask;
        u32::from(ip) & mask == u32::from(self.addr) && host > 1 && host != !mask
    }
}

impl FromStr for Subnet {
    type Err = StateError;
    fn from_str(s: &str) -> Result<Self, StateError> {
        let bad = |why| StateError::Invalid {
            what: "subnet",
            value: s.to_owned(),
            why,
        };
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| bad("expected a.b.c.d/len"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix_len: u8 = len
            .parse()
            .map_err(|_| bad("prefix length is not a number"))?;
        if !(8..=30).contains(&prefix_len) {
            return Err(bad("prefix length must be 8..=30"));
        }
        let subnet = Subnet { addr, prefix_len };
        if u32::from(addr) & !u32::from(subnet.mask()) != 0 {
            return Err(bad("host bits are set"));
        }
        Ok(subnet)
    }
}

impl TryFrom<String> for Subnet {
    type Error = StateError;
    fn try_from(s: String) -> Result<Self, StateError> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// A unicast MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Docker's convention: `02:42:` followed by the IPv4 address.
    pub fn for_ip(ip: Ipv4Addr) -> Mac {
        let o = ip.octets();
        Mac([0x02, 0x42, o[0], o[1], o[2], o[3]])
    }
}

impl FromStr for Mac {
    type Err = StateError;
    fn from_str(s: &str) -> Result<Self, StateError> {
        let bad = |why| StateError::Invalid {
            what: "MAC address",
            value: s.to_owned(),
            why,
        };
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6 {
            return Err(bad("expected six hex bytes separated by ':'"));
        }
        let mut mac = [0u8; 6];
        for (byte, part) in mac.iter_mut().zip(parts) {
            if part.len() != 2 {
                return Err(bad("expected six hex bytes separated by ':'"));
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad("not hexadecimal"))?;
        }
        if mac[0] & 1 != 0 {
            return Err(bad("multicast addresses cannot be a task's"));
        }
        Ok(Mac(mac))
    }
}

impl TryFrom<String> for Mac {
    type Error = StateError;
    fn try_from(s: String) -> Result<Self, StateError> {
        s.parse()
    }
}

impl From<Mac> for String {
    fn from(m: Mac) -> String {
        m.to_string()
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl DesiredState {
    /// Check everything that can be checked without touching the system.
    pub fn validate(&self) -> Result<(), StateError> {
        if self.underlay.vxlan_port == 0 {
            return Err(StateError::Invalid {
                what: "vxlan_port",
                value: "0".into(),
                why: "must be 1-65535",
            });
        }
        validate_ifname(&self.underlay.iface)?;
        self.validate_networks()?;
        self.validate_local_endpoints()?;
        self.validate_remote_endpoints()?;
        Ok(crate::lb::state::validate(self)?)
    }

    /// The network called `name`.
    pub fn network(&self, name: &str) -> Option<&NetworkSpec> {
        self.networks.iter().find(|n| n.name == name)
    }

    fn validate_networks(&self) -> Result<(), StateError> {
        let (mut names, mut vnis) = (HashSet::new(), HashSet::new());
        for net in &self.networks {
            if net.name.is_empty() {
                return Err(StateError::Invalid {
                    what: "network name",
                    value: String::new(),
                    why: "empty",
                });
            }
            if !(1..=VNI_MAX).contains(&net.vni) {
                return Err(StateError::Invalid {
                    what: "VNI",
                    value: net.vni.to_string(),
                    why: "must be 1..=16777215",
                });
            }
            if !names.insert(&net.name) {
                return Err(StateError::Duplicate {
                    what: "network",
                    value: net.name.clone(),
                });
            }
            if !vnis.insert(net.vni) {
                return Err(StateError::Duplicate {
                    what: "VNI",
                    value: net.vni.to_string(),
                });
            }
        }
        Ok(())
    }

    fn validate_local_endpoints(&self) -> Result<(), StateError> {
        let (mut ids, mut ifaces, mut addrs) = (HashSet::new(), HashSet::new(), HashSet::new());
        for ep in &self.endpoints {
            validate_ifname(&ep.ifname)?;
            if ep.netns.is_empty() || ep.netns.contains('/') {
                return Err(StateError::Invalid {
                    what: "netns",
                    value: ep.netns.clone(),
                    why: "expected a name under /run/netns or a process id",
                });
            }
            if !ids.insert(&ep.id) {
                return Err(StateError::Duplicate {
                    what: "endpoint id",
                    value: ep.id.clone(),
                });
            }
            if !ifaces.insert((&ep.netns, &ep.ifname)) {
                return Err(StateError::Duplicate {
                    what: "task interface",
                    value: format!("{}:{}", ep.netns, ep.ifname),
                });
            }
            self.check_address(&ep.id, &ep.network, ep.ip, &mut addrs)?;
        }
        Ok(())
    }

    fn validate_remote_endpoints(&self) -> Result<(), StateError> {
        let mut addrs: HashSet<(String, Ipv4Addr)> = self
            .endpoints
            .iter()
            .map(|e| (e.network.clone(), e.ip))
            .collect();
        for ep in &self.remote_endpoints {
            self.check_address(&ep.ip.to_string(), &ep.network, ep.ip, &mut addrs)?;
        }
        Ok(())
    }

    fn check_address(
        &self,
        endpoint: &str,
        network: &str,
        ip: Ipv4Addr,
        seen: &mut HashSet<(String, Ipv4Addr)>,
    ) -> Result<(), StateError> {
        let net = self
            .network(network)
            .ok_or_else(|| StateError::UnknownNetwork {
                endpoint: endpoint.to_owned(),
                network: network.to_owned(),
            })?;
        if !net.subnet.is_task_address(ip) {
            return Err(StateError::AddressOutsideSubnet {
                endpoint: endpoint.to_owned(),
                ip,
                network: net.name.clone(),
                subnet: net.subnet,
            });
        }
        if !seen.insert((network.to_owned(), ip)) {
            return Err(StateError::Duplicate {
                what: "address",
                value: format!("{network}/{ip}"),
            });
        }
        Ok(())
    }
}

fn validate_ifname(name: &str) -> Result<(), StateError> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StateError::Invalid {
            what: "interface name",
            value: name.to_owned(),
            why: "use 1-15 characters of [A-Za-z0-9._-]",
        })
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
