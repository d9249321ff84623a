//! The load balancer's parts of a node's desired state, borrowed: what it
//! validates, plans and applies, whoever owns the whole state.

use super::state::{ConntrackSpec, LbStateError, PublishedPort, ServiceSpec};
use crate::overlay::state::{LocalEndpoint, NetworkSpec, RemoteEndpoint};

/// The load balancer's view of a node's desired state.
#[derive(Clone, Copy, Debug)]
pub struct LbView<'a> {
    /// The VXLAN data-path port (no published UDP port may take it).
    pub vxlan_port: u16,
    /// Overlay networks this node takes part in.
    pub networks: &'a [NetworkSpec],
    /// Task interfaces on this node.
    pub endpoints: &'a [LocalEndpoint],
    /// Tasks on other nodes this node must reach.
    pub remote_endpoints: &'a [RemoteEndpoint],
    /// Services this node load-balances.
    pub services: &'a [ServiceSpec],
    /// Ports published on this node's addresses (the routing mesh).
    pub published: &'a [PublishedPort],
    /// Conntrack timeouts.
    pub conntrack: &'a ConntrackSpec,
}

impl<'a> LbView<'a> {
    /// The network called `name`.
    pub fn network(&self, name: &str) -> Option<&'a NetworkSpec> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The network of `svc`'s VIP: the one it names, else the only one
    /// whose subnet holds the VIP.
    pub fn vip_network(&self, svc: &ServiceSpec) -> Result<&'a NetworkSpec, LbStateError> {
        if let Some(name) = &svc.network {
            return self
                .network(name)
                .filter(|n| n.subnet.is_task_address(svc.vip))
                .ok_or_else(|| LbStateError::VipOffNetwork {
                    service: svc.name.clone(),
                    vip: svc.vip,
                    network: name.clone(),
                });
        }
        let mut holding = self
            .networks
            .iter()
            .filter(|n| n.subnet.is_task_address(svc.vip));
        let first = holding
            .next()
            .ok_or_else(|| LbStateError::VipOutsideNetworks {
                service: svc.name.clone(),
                vip: svc.vip,
            })?;
        match holding.next() {
            None => Ok(first),
            Some(second) => Err(LbStateError::VipNetworkAmbiguous {
                service: svc.name.clone(),
                vip: svc.vip,
                first: first.name.clone(),
                second: second.name.clone(),
            }),
        }
    }
}
