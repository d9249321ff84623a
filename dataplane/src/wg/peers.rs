//! The peer table: one boringtun session per peer node, found by the
//! node's underlay address (the outer destination of a frame to send, the
//! source of a datagram received).

use std::{
    collections::HashMap,
    net::{Ipv4Addr, SocketAddrV4},
    sync::{Arc, Mutex, PoisonError, RwLock},
};

use boringtun::noise::Tunn;

use super::{PrivateKey, PublicKey, WgPeerStatus};

/// A peer as the control plane names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WgPeerSpec {
    /// The node's underlay address: its VXLAN packets' outer source, and
    /// the outer destination of frames for it.
    pub node: Ipv4Addr,
    /// Its public key.
    pub public_key: PublicKey,
    /// Where its WireGuard socket listens.
    pub endpoint: SocketAddrV4,
}

/// One peer with its session.
pub(crate) struct Peer {
    pub(crate) spec: WgPeerSpec,
    pub(crate) tunn: Mutex<Tunn>,
}

impl Peer {
    /// The session, locked (a panic elsewhere leaves it usable).
    pub(crate) fn tunn(&self) -> std::sync::MutexGuard<'_, Tunn> {
        self.tunn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Peers by underlay address.
#[derive(Default)]
pub(crate) struct PeerTable {
    by_node: RwLock<HashMap<Ipv4Addr, Arc<Peer>>>,
}

impl PeerTable {
    /// The peer whose node has underlay address `node`.
    pub(crate) fn get(&self, node: Ipv4Addr) -> Option<Arc<Peer>> {
        self.read().get(&node).cloned()
    }

    /// Every peer.
    pub(crate) fn all(&self) -> Vec<Arc<Peer>> {
        self.read().values().cloned().collect()
    }

    /// Make the table hold exactly `specs`, keeping the sessions of peers
    /// whose key and endpoint did not change.
    pub(crate) fn set(&self, private_key: &PrivateKey, specs: &[WgPeerSpec]) {
        let mut table = self.by_node.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = HashMap::with_capacity(specs.len());
        for (index, spec) in specs.iter().enumerate() {
            let kept = table.get(&spec.node).filter(|p| p.spec == *spec).cloned();
            let peer = kept.unwrap_or_else(|| {
                // The session index only has to tell this node's sessions
                // apart; boringtun shifts it left by 8 bits.
                let index = (u32::from(spec.node) ^ index as u32) & 0x00ff_ffff;
                let tunn = Tunn::new(
                    private_key.secret(),
                    spec.public_key.key(),
                    None,
                    None,
                    index,
                    None,
                );
                Arc::new(Peer {
                    spec: spec.clone(),
                    tunn: Mutex::new(tunn),
                })
            });
            next.insert(spec.node, peer);
        }
        *table = next;
    }

    /// What `shoal dp peers` shows, sorted by node.
    pub(crate) fn status(&self) -> Vec<WgPeerStatus> {
        let mut all: Vec<WgPeerStatus> = self
            .all()
            .iter()
            .map(|peer| {
                let (since, tx, rx, _, _) = peer.tunn().stats();
                WgPeerStatus {
                    node: peer.spec.node,
                    public_key: peer.spec.public_key.to_string(),
                    endpoint: peer.spec.endpoint,
                    last_handshake_secs: since.map(|d| d.as_secs()),
                    tx_bytes: tx as u64,
                    rx_bytes: rx as u64,
                }
            })
            .collect();
        all.sort_by_key(|p| p.node);
        all
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Ipv4Addr, Arc<Peer>>> {
        self.by_node.read().unwrap_or_else(PoisonError::into_inner)
    }
}
