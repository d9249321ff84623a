//! A [`MapSetup`] for the overlay maps (`shoal_node_v3`, `shoal_net_v1`,
//! `shoal_ifc_v1`, `shoal_ep_v1`, `shoal_peers_v1`): the entries a fixture needs, written into
//! the harness's pinned maps before the run and removed after it.
//!
//! `apply` refuses to overwrite an entry that is already there, so `undo`
//! (which removes every entry and zeroes the node settings) leaves the maps
//! exactly as `apply` found them, and a fixture that leaks state fails the
//! next one instead of silently changing its meaning.

use std::{error::Error, net::Ipv4Addr};

use aya::{
    Ebpf,
    maps::{Array, HashMap, MapData},
};
use shoal_common::{
    maps,
    overlay::{
        ENDPOINT_LOCAL, ENDPOINT_REMOTE, Endpoint, EndpointKey, Network, NodeConfig, PEER_NODE,
        Peer, TaskIface,
    },
};

use super::harness::MapSetup;

/// Overlay map entries for one fixture.
#[derive(Clone, Debug, Default)]
pub struct OverlayMaps {
    node: Option<NodeConfig>,
    networks: Vec<(u32, Network)>,
    task_ifaces: Vec<(u32, TaskIface)>,
    endpoints: Vec<(EndpointKey, Endpoint)>,
    peers: Vec<([u8; 4], Peer)>,
    egress: Vec<(u32, u32)>,
}

impl OverlayMaps {
    /// No entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// This node's settings: underlay NIC, underlay address, VXLAN port.
    pub fn node(mut self, underlay_ifindex: u32, underlay_ip: Ipv4Addr, vxlan_port: u16) -> Self {
        self.node = Some(NodeConfig {
            underlay_ifindex,
            underlay_ip: underlay_ip.octets(),
            vxlan_port: vxlan_port.to_be_bytes(),
            _pad: [0; 2],
            wg_ifindex: 0,
            flags: 0,
            underlay_mtu: 1500,
        });
        self
    }

    /// The underlay MTU in the node settings (set `node` first; 1500 else).
    pub fn underlay_mtu(mut self, mtu: u32) -> Self {
        if let Some(node) = self.node.as_mut() {
            node.underlay_mtu = mtu;
        }
        self
    }

    /// Turn the XDP fast path on in the node settings (set `node` first).
    pub fn xdp_fast_path(mut self) -> Self {
        if let Some(node) = self.node.as_mut() {
            node.flags |= shoal_common::overlay::NODE_XDP_FAST_PATH;
        }
        self
    }

    /// Network `vni` with subnet `subnet/prefix`.
    pub fn network(mut self, vni: u32, subnet: Ipv4Addr, prefix: u8) -> Self {
        assert!(prefix <= 32);
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        self.networks.push((
            vni,
            Network {
                subnet: subnet.octets(),
                mask: mask.to_be_bytes(),
                flags: 0,
            },
        ));
        self
    }

    /// Mark network `vni` (added before) encrypted.
    pub fn encrypted(mut self, vni: u32) -> Self {
        for (v, net) in &mut self.networks {
            if *v == vni {
                net.flags = shoal_common::overlay::NETWORK_ENCRYPTED;
            }
        }
        self
    }

    /// The WireGuard device's ifindex in the node settings (set `node` first).
    pub fn wg_ifindex(mut self, ifindex: u32) -> Self {
        if let Some(node) = self.node.as_mut() {
            node.wg_ifindex = ifindex;
        }
        self
    }

    /// A task interface behind host-side device `ifindex`.
    pub fn task_iface(mut self, ifindex: u32, iface: TaskIface) -> Self {
        self.task_ifaces.push((ifindex, iface));
        self
    }

    /// A task on this node: `ip` in `vni`, MAC `mac`, behind host-side
    /// device `ifindex` whose MAC is `host_mac`.
    pub fn local_endpoint(
        self,
        vni: u32,
        ip: Ipv4Addr,
        mac: [u8; 6],
        ifindex: u32,
        host_mac: [u8; 6],
    ) -> Self {
        self.endpoint(
            vni,
            ip,
            Endpoint {
                kind: ENDPOINT_LOCAL,
                ifindex,
                node_ip: [0; 4],
                mac,
                host_mac,
            },
        )
    }

    /// A node VXLAN is accepted from (once, however often it is named).
    pub fn peer(mut self, node_ip: Ipv4Addr) -> Self {
        let key = node_ip.octets();
        if !self.peers.iter().any(|(k, _)| *k == key) {
            self.peers.push((key, Peer { kind: PEER_NODE }));
        }
        self
    }

    /// A task on node `node_ip`: `ip` in `vni`, MAC `mac`. Its node becomes
    /// a peer, as `dp apply` makes it.
    pub fn remote_endpoint(self, vni: u32, ip: Ipv4Addr, mac: [u8; 6], node_ip: Ipv4Addr) -> Self {
        self.peer(node_ip).endpoint(
            vni,
            ip,
            Endpoint {
                kind: ENDPOINT_REMOTE,
                ifindex: 0,
                node_ip: node_ip.octets(),
                mac,
                host_mac: [0; 6],
            },
        )
    }

    /// Network `vni` may reach outside the cluster (`shoal_egress_v1`).
    pub fn egress(mut self, vni: u32) -> Self {
        self.egress
            .push((vni, shoal_common::egress::EGRESS_ALLOWED));
        self
    }

    /// Any endpoint value, including ones `dp apply` would never write.
    pub fn endpoint(mut self, vni: u32, ip: Ipv4Addr, endpoint: Endpoint) -> Self {
        let key = EndpointKey {
            vni,
            ip: ip.octets(),
        };
        self.endpoints.push((key, endpoint));
        self
    }
}

pub(super) type Res = Result<(), Box<dyn Error>>;

fn node_map(ebpf: &mut Ebpf) -> Result<Array<&mut MapData, NodeConfig>, Box<dyn Error>> {
    let map = ebpf.map_mut(maps::NODE).ok_or("no map shoal_node_v3")?;
    Ok(Array::try_from(map)?)
}

pub(super) fn hash_map<'a, K: aya::Pod, V: aya::Pod>(
    ebpf: &'a mut Ebpf,
    name: &str,
) -> Result<HashMap<&'a mut MapData, K, V>, Box<dyn Error>> {
    let map = ebpf.map_mut(name).ok_or_else(|| format!("no map {name}"))?;
    Ok(HashMap::try_from(map)?)
}

/// Insert `entries`, refusing keys that are already present.
pub(super) fn insert_all<K, V>(ebpf: &mut Ebpf, name: &str, entries: &[(K, V)]) -> Res
where
    K: aya::Pod + std::fmt::Debug,
    V: aya::Pod,
{
    let mut map = hash_map::<K, V>(ebpf, name)?;
    for (key, value) in entries {
        if map.get(key, 0).is_ok() {
            return Err(format!("{name}: {key:?} left behind by an earlier fixture").into());
        }
        map.insert(key, value, 0)?;
    }
    Ok(())
}

pub(super) fn remove_all<K, V>(ebpf: &mut Ebpf, name: &str, entries: &[(K, V)]) -> Res
where
    K: aya::Pod,
    V: aya::Pod,
{
    let mut map = hash_map::<K, V>(ebpf, name)?;
    for (key, _) in entries {
        map.remove(key)?;
    }
    Ok(())
}

impl MapSetup for OverlayMaps {
    fn apply(&self, ebpf: &mut Ebpf) -> Res {
        if let Some(node) = &self.node {
            let mut map = node_map(ebpf)?;
            if map.get(&0, 0)? != NodeConfig::default() {
                return Err("shoal_node_v3 left set by an earlier fixture".into());
            }
            map.set(0, node, 0)?;
        }
        insert_all(ebpf, maps::NETWORKS, &self.networks)?;
        insert_all(ebpf, maps::TASK_IFACES, &self.task_ifaces)?;
        insert_all(ebpf, maps::ENDPOINTS, &self.endpoints)?;
        insert_all(ebpf, maps::EGRESS, &self.egress)?;
        insert_all(ebpf, maps::PEERS, &self.peers)
    }

    fn undo(&self, ebpf: &mut Ebpf) -> Res {
        if self.node.is_some() {
            node_map(ebpf)?.set(0, NodeConfig::default(), 0)?;
        }
        remove_all(ebpf, maps::NETWORKS, &self.networks)?;
        remove_all(ebpf, maps::TASK_IFACES, &self.task_ifaces)?;
        remove_all(ebpf, maps::ENDPOINTS, &self.endpoints)?;
        remove_all(ebpf, maps::EGRESS, &self.egress)?;
        remove_all(ebpf, maps::PEERS, &self.peers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_masks_follow_the_prefix() {
        let maps = OverlayMaps::new()
            .network(1, Ipv4Addr::new(10, 0, 1, 0), 24)
            .network(2, Ipv4Addr::new(0, 0, 0, 0), 0)
            .network(3, Ipv4Addr::new(10, 0, 0, 7), 32);
        let masks: Vec<[u8; 4]> = maps.networks.iter().map(|(_, n)| n.mask).collect();
        assert_eq!(masks, [[255, 255, 255, 0], [0; 4], [255; 4]]);
    }
}
