//! The load balancer's parts of a node's desired state, borrowed: what it
//! validates, plans and applies, whoever owns the whole state.

use super::state::{ConntrackSpec, PublishedPort, ServiceSpec};
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
}
