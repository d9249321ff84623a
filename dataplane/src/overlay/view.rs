//! The overlay's parts of a node's desired state, borrowed: what the
//! overlay validates and applies, whoever owns the whole state.

use std::{
    collections::{BTreeSet, HashSet},
    net::Ipv4Addr,
};

use shoal_common::overlay::VNI_MAX;

use super::state::{LocalEndpoint, NetworkSpec, RemoteEndpoint, StateError, Underlay};

/// The overlay's view of a node's desired state.
#[derive(Clone, Copy, Debug)]
pub struct OverlayView<'a> {
    /// The node's underlay.
    pub underlay: &'a Underlay,
    /// Overlay networks this node takes part in.
    pub networks: &'a [NetworkSpec],
    /// Task interfaces on this node.
    pub endpoints: &'a [LocalEndpoint],
    /// Tasks on other nodes this node must reach.
    pub remote_endpoints: &'a [RemoteEndpoint],
    /// Underlay addresses of the swarm's other nodes.
    pub peers: &'a [Ipv4Addr],
}

impl<'a> OverlayView<'a> {
    /// The network called `name`.
    pub fn network(&self, name: &str) -> Option<&'a NetworkSpec> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// Every node VXLAN is accepted from: the peers and the nodes of the
    /// remote endpoints.
    pub fn peer_addrs(&self) -> BTreeSet<Ipv4Addr> {
        self.peers
            .iter()
            .copied()
            .chain(self.remote_endpoints.iter().map(|ep| ep.node))
            .collect()
    }

    /// Check everything of the overlay that can be checked without
    /// touching the system.
    pub fn validate(&self) -> Result<(), StateError> {
        if self.underlay.vxlan_port == 0 {
            return Err(StateError::Invalid {
                what: "vxlan_port",
                value: "0".into(),
                why: "must be 1-65535",
            });
        }
        validate_ifname(&self.underlay.iface)?;
        validate_networks(self.networks)?;
        self.validate_local_endpoints()?;
        self.validate_remote_endpoints()
    }

    fn validate_local_endpoints(&self) -> Result<(), StateError> {
        let (mut ids, mut ifaces, mut addrs) = (HashSet::new(), HashSet::new(), HashSet::new());
        for ep in self.endpoints {
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
        for ep in self.remote_endpoints {
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

fn validate_networks(networks: &[NetworkSpec]) -> Result<(), StateError> {
    let (mut names, mut vnis) = (HashSet::new(), HashSet::new());
    for net in networks {
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
