//! The other nodes a node exchanges overlay traffic with, and so the only
//! ones its data plane accepts VXLAN from (`Assignment.peers`) and holds a
//! WireGuard session with (`Assignment.wg_peers`): the nodes with a live
//! task on a network the node's own tasks reach — and every node when the
//! node hosts a live task on an ingress network, as the routing mesh
//! forwards a published port's requests from any node and the replies go
//! back there. A node without tasks gets the mesh's backend nodes only
//! (from the ingress network's live tasks), so a join or a leave reaches
//! the assignments of the mesh's backend nodes, not of the whole swarm.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::view::{View, underlay_ip};
use shoal_model::assignment::WgPeer;

/// Which nodes a node deals with on some networks.
enum Partners<'a> {
    /// Every node of the swarm.
    Every,
    /// These node IDs.
    Some(BTreeSet<&'a str>),
}

impl Partners<'_> {
    fn includes(&self, node_id: &str) -> bool {
        match self {
            Partners::Every => true,
            Partners::Some(ids) => ids.contains(node_id),
        }
    }
}

/// The nodes with a live task on one of `networks` (by name), or every
/// node when `node_id` has a live task on one of them that is an ingress
/// network.
fn partners<'a>(view: &'a View, node_id: &str, networks: &[&'a String]) -> Partners<'a> {
    let mut ids = BTreeSet::new();
    for network in networks {
        let live = view.live.get(*network).into_iter().flatten();
        let is_ingress = view.ingress.contains(network);
        for (node, _) in live {
            if node == node_id && is_ingress {
                return Partners::Every;
            }
            ids.insert(node.as_str());
        }
    }
    Partners::Some(ids)
}

/// The other nodes `partners` includes, by underlay address (sorted,
/// distinct; never the node's own address).
fn by_address<'a>(
    view: &'a View,
    node_id: &str,
    partners: &Partners<'_>,
) -> BTreeMap<Ipv4Addr, &'a shoal_model::cluster::NodeRecord> {
    let own = view.nodes.get(node_id).and_then(|n| underlay_ip(&n.addr));
    let chosen = |(id, node): (&String, &'a shoal_model::cluster::NodeRecord)| {
        let addr = underlay_ip(&node.addr).filter(|ip| Some(*ip) != own)?;
        (id != node_id && partners.includes(id)).then_some((addr, node))
    };
    match partners {
        Partners::Every => view.nodes.iter().filter_map(chosen).collect(),
        // Only the named nodes are looked up: work in proportion to them.
        Partners::Some(ids) => ids
            .iter()
            .filter_map(|id| view.nodes.get_key_value(*id))
            .filter_map(chosen)
            .collect(),
    }
}

/// Underlay addresses of the nodes `node_id` exchanges overlay traffic
/// with on the `reach` networks (sorted, distinct).
pub(super) fn peers(view: &View, node_id: &str, reach: &BTreeSet<String>) -> Vec<Ipv4Addr> {
    let networks: Vec<&String> = reach.iter().collect();
    let partners = partners(view, node_id, &networks);
    by_address(view, node_id, &partners).into_keys().collect()
}

/// The WireGuard identities of the nodes `node_id` exchanges traffic of an
/// encrypted network with (sorted by address): none while it reaches no
/// encrypted network, and a node's key goes from every assignment the
/// moment its record is removed.
pub(super) fn wg_peers(view: &View, node_id: &str, reach: &BTreeSet<String>) -> Vec<WgPeer> {
    let encrypted: Vec<&String> = view
        .networks
        .values()
        .filter(|n| n.encrypted && reach.contains(&n.name))
        .map(|n| &n.name)
        .collect();
    if encrypted.is_empty() {
        return Vec::new();
    }
    let partners = partners(view, node_id, &encrypted);
    by_address(view, node_id, &partners)
        .into_iter()
        .filter_map(|(addr, node)| {
            let wg = node.wireguard.as_ref()?;
            Some(WgPeer {
                addr,
                public_key: wg.public_key.clone(),
                port: wg.port,
            })
        })
        .collect()
}
