//! The overlay's types of a node's desired state: the underlay, networks,
//! local and remote endpoints, and the errors found validating them. The
//! node's whole desired state holds them; the overlay sees them through an
//! [`super::OverlayView`].

use std::{fmt, net::Ipv4Addr, str::FromStr};

use serde::{Deserialize, Serialize};
use shoal_common::overlay::VXLAN_PORT;

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
    /// The WireGuard TAP device frames of encrypted networks go through
    /// (created by the WireGuard worker); absent or missing: they are
    /// dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wg_iface: Option<String>,
    /// The XDP fast path: VXLAN for a local task is unwrapped at XDP
    /// (`shoal_underlay_xdp`) instead of TC; off, the XDP program only
    /// validates and TC does all of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub xdp_fast_path: bool,
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
    /// No egress: its tasks reach nothing outside the cluster through it
    /// (Docker's `--internal`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    /// Encrypted (`--opt encrypted`): its traffic to other nodes goes only
    /// through WireGuard, and its tasks get a smaller MTU.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
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
