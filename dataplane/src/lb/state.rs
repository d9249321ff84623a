//! The load-balancing part of a node's desired state: services (a VIP and
//! ports in front of backends), published ports of the routing mesh, and
//! conntrack timeouts. Part of the node's whole desired state, seen here
//! through an [`super::LbView`]; the keys default to empty, so a state without
//! services stays valid.

use std::{fmt, net::Ipv4Addr};

use serde::{Deserialize, Serialize};
use shoal_common::lb::{LbConfig, PROTO_TCP, PROTO_UDP};

use crate::overlay::state::Subnet;

/// A service: a virtual IP on one overlay network in front of backends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Service name, unique on the node.
    pub name: String,
    /// The virtual IP: a usable address of its backends' network.
    pub vip: Ipv4Addr,
    /// The network the VIP is on, the only one whose tasks it answers;
    /// defaults to the one network whose subnet holds the VIP (required
    /// when several networks share that subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Ports the VIP answers on.
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    /// The service's tasks.
    #[serde(default)]
    pub backends: Vec<BackendSpec>,
}

/// One port of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePort {
    /// Port on the VIP, 1-65535; `0`: every port that has no entry of its
    /// own, the backends getting the flow's own destination port (no
    /// `target` then).
    pub port: u16,
    /// Port on the backends; defaults to `port`.
    #[serde(default)]
    pub target: Option<u16>,
    /// Transport protocol; defaults to TCP.
    #[serde(default)]
    pub protocol: Protocol,
}

impl ServicePort {
    /// The backends' port.
    pub fn target_port(&self) -> u16 {
        self.target.unwrap_or(self.port)
    }
}

/// One backend (task) of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    /// The task's address.
    pub ip: Ipv4Addr,
    /// The network it is reached on (the VIP's network).
    pub network: String,
    /// Draining: keeps its established flows, takes no new ones.
    #[serde(default)]
    pub draining: bool,
}

/// A port published on every node's address (the routing mesh).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedPort {
    /// The published port, 1-65535, unique per protocol.
    pub port: u16,
    /// Transport protocol; defaults to TCP.
    #[serde(default)]
    pub protocol: Protocol,
    /// The service it leads to.
    pub service: String,
    /// Which of the service's ports (its `port`, not its target).
    pub target: u16,
    /// Ingress (any backend in the cluster) or host (this node's only).
    #[serde(default)]
    pub mode: PublishMode,
}

/// Transport protocol of a port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => PROTO_TCP,
            Protocol::Udp => PROTO_UDP,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// How a published port picks backends (Docker's `mode=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishMode {
    /// Any backend in the cluster, reached through the overlay.
    #[default]
    Ingress,
    /// Only backends on this node (those listed in `endpoints`).
    Host,
}

/// Conntrack timeouts in seconds; absent or 0 means the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConntrackSpec {
    /// TCP flow that has seen only a SYN.
    #[serde(default)]
    pub tcp_syn_s: u32,
    /// Established TCP flow, idle.
    #[serde(default)]
    pub tcp_established_s: u32,
    /// Half-closed TCP flow (one FIN).
    #[serde(default)]
    pub tcp_half_closed_s: u32,
    /// Both FINs or a reset seen.
    #[serde(default)]
    pub tcp_closing_s: u32,
    /// UDP flow, idle.
    #[serde(default)]
    pub udp_s: u32,
}

impl ConntrackSpec {
    /// Whether nothing is set (serialised states leave it out).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The map value.
    pub fn config(&self) -> LbConfig {
        LbConfig {
            tcp_syn_s: self.tcp_syn_s,
            tcp_established_s: self.tcp_established_s,
            tcp_half_closed_s: self.tcp_half_closed_s,
            tcp_closing_s: self.tcp_closing_s,
            udp_s: self.udp_s,
            _pad: 0,
        }
    }
}

/// Errors in the services part of a desired state.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LbStateError {
    /// A service without a name.
    #[error("service with VIP {vip}: empty name")]
    EmptyName {
        /// Its VIP.
        vip: Ipv4Addr,
    },
    /// Port 0.
    #[error("{owner}: {what} 0 is not a port (use 1-65535)")]
    PortZero {
        /// Service or published port.
        owner: String,
        /// Which port.
        what: &'static str,
    },
    /// Two items share what must be unique.
    #[error("duplicate {what} {value}")]
    Duplicate {
        /// What is duplicated.
        what: &'static str,
        /// The duplicated value.
        value: String,
    },
    /// A VIP outside every network.
    #[error("service {service}: VIP {vip} is not a usable host address of any network")]
    VipOutsideNetworks {
        /// Service name.
        service: String,
        /// The VIP.
        vip: Ipv4Addr,
    },
    /// A VIP whose network is not named while several networks' subnets
    /// hold it.
    #[error(
        "service {service}: VIP {vip} is in the subnet of {first} and {second}; \
         name its network"
    )]
    VipNetworkAmbiguous {
        /// Service name.
        service: String,
        /// The VIP.
        vip: Ipv4Addr,
        /// One network holding it.
        first: String,
        /// Another.
        second: String,
    },
    /// A VIP on a named network the state does not define, or outside
    /// that network's subnet.
    #[error("service {service}: VIP {vip} is not a usable host address of network {network:?}")]
    VipOffNetwork {
        /// Service name.
        service: String,
        /// The VIP.
        vip: Ipv4Addr,
        /// The network named.
        network: String,
    },
    /// A VIP that a task already uses.
    #[error("service {service}: VIP {vip} is already a task's address on {network}")]
    VipTaken {
        /// Service name.
        service: String,
        /// The VIP.
        vip: Ipv4Addr,
        /// Network name.
        network: String,
    },
    /// A backend on a network the state does not define.
    #[error("service {service}: backend {ip}: no network named {network:?}")]
    UnknownNetwork {
        /// Service name.
        service: String,
        /// Backend address.
        ip: Ipv4Addr,
        /// The missing network.
        network: String,
    },
    /// A backend address that cannot be a task's.
    #[error("service {service}: backend {ip} is not a usable host address of {network} ({subnet})")]
    BackendOutsideSubnet {
        /// Service name.
        service: String,
        /// Backend address.
        ip: Ipv4Addr,
        /// Network name.
        network: String,
        /// Its subnet.
        subnet: Subnet,
    },
    /// A backend on another network than the VIP.
    #[error(
        "service {service}: backend {ip} is on {network} but the VIP {vip} is on {vip_network}; \
         a service balances within one network"
    )]
    BackendOffVipNetwork {
        /// Service name.
        service: String,
        /// Backend address.
        ip: Ipv4Addr,
        /// The backend's network.
        network: String,
        /// The VIP.
        vip: Ipv4Addr,
        /// The VIP's network.
        vip_network: String,
    },
    /// A published port naming a service the state does not define.
    #[error("published port {port}/{protocol}: no service named {service:?}")]
    UnknownService {
        /// Published port.
        port: u16,
        /// Its protocol.
        protocol: Protocol,
        /// The missing service.
        service: String,
    },
    /// A published port naming a port its service does not have.
    #[error("published port {port}/{protocol}: service {service} has no {protocol} port {target}")]
    UnknownTarget {
        /// Published port.
        port: u16,
        /// Its protocol.
        protocol: Protocol,
        /// Service name.
        service: String,
        /// The missing service port.
        target: u16,
    },
    /// A published UDP port on the VXLAN data-path port.
    #[error("published port {port}/udp is the VXLAN data-path port")]
    VxlanPort {
        /// The port.
        port: u16,
    },
}

/// The service port a published port leads to.
pub fn published_target(svc: &ServiceSpec, p: &PublishedPort) -> Option<ServicePort> {
    svc.ports
        .iter()
        .find(|sp| sp.port == p.target && sp.protocol == p.protocol)
        .copied()
}
