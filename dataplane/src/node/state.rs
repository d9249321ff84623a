//! The desired state of one node's data plane: one serialisable value that
//! `shoal dp apply` and the agent hand to [`super::apply`].

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::{
    lb::{
        LbView,
        state::{ConntrackSpec, LbStateError, PublishedPort, ServiceSpec},
    },
    overlay::{
        OverlayView,
        state::{
            LocalEndpoint, NetworkSpec, RemoteEndpoint, StateError as OverlayStateError, Underlay,
        },
    },
};

/// Everything the data plane of one node should hold.
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
    /// Underlay addresses of the swarm's other nodes: with the nodes of
    /// `remote_endpoints`, the only sources VXLAN is accepted from (a node
    /// with no tasks still forwards routing-mesh requests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<Ipv4Addr>,
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

/// Errors in a desired state; nothing is applied when one is found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    /// The overlay part (underlay, networks, endpoints) is invalid.
    #[error(transparent)]
    Overlay(#[from] OverlayStateError),
    /// The services part is invalid.
    #[error(transparent)]
    Lb(#[from] LbStateError),
}

impl DesiredState {
    /// Check everything that can be checked without touching the system:
    /// the overlay part first, then the services that build on it.
    pub fn validate(&self) -> Result<(), StateError> {
        self.overlay_view().validate()?;
        Ok(self.lb_view().validate()?)
    }

    /// The network called `name`.
    pub fn network(&self, name: &str) -> Option<&NetworkSpec> {
        self.overlay_view().network(name)
    }

    /// The overlay's part of the state.
    pub fn overlay_view(&self) -> OverlayView<'_> {
        OverlayView {
            underlay: &self.underlay,
            networks: &self.networks,
            endpoints: &self.endpoints,
            remote_endpoints: &self.remote_endpoints,
            peers: &self.peers,
        }
    }

    /// The load balancer's part of the state.
    pub fn lb_view(&self) -> LbView<'_> {
        LbView {
            vxlan_port: self.underlay.vxlan_port,
            networks: &self.networks,
            endpoints: &self.endpoints,
            remote_endpoints: &self.remote_endpoints,
            services: &self.services,
            published: &self.published,
            conntrack: &self.conntrack,
        }
    }
}

#[cfg(test)]
#[path = "overlay_state_tests.rs"]
mod overlay_tests;

#[cfg(test)]
#[path = "lb_state_tests.rs"]
mod lb_tests;
