//! The peer table: the WireGuard sessions of each peer node (see
//! `session.rs`), found by the node's underlay address (the outer
//! destination of a frame to send, the source of a datagram received).

use std::{
    collections::HashMap,
    net::{Ipv4Addr, SocketAddrV4},
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicU32, Ordering::Relaxed},
    },
    time::Instant,
};

use super::{
    PresharedKey, PrivateKey, PublicKey, WgPeerStatus,
    session::{SessionKeys, Sessions, switch_delay},
};

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

/// One peer with its sessions.
pub(crate) struct Peer {
    pub(crate) spec: WgPeerSpec,
    sessions: Mutex<Sessions>,
}

impl Peer {
    /// The sessions, locked (a panic elsewhere leaves them usable).
    pub(crate) fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Peers by underlay address.
#[derive(Default)]
pub(crate) struct PeerTable {
    by_node: RwLock<HashMap<Ipv4Addr, Arc<Peer>>>,
    /// Names every session this node makes (boringtun's 24-bit index), so
    /// a datagram's receiver index finds its session.
    next_index: AtomicU32,
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

    /// Make the table hold exactly `specs` with the preshared key `psk`,
    /// keeping the sessions of peers whose key and endpoint did not change
    /// (a new `psk` reaches them as a rotation: see `session.rs`).
    pub(crate) fn set(
        &self,
        private_key: &PrivateKey,
        specs: &[WgPeerSpec],
        psk: Option<&PresharedKey>,
    ) {
        let own = private_key.public_key();
        let now = Instant::now();
        let mut table = self.by_node.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = HashMap::with_capacity(specs.len());
        for spec in specs {
            let kept = table.get(&spec.node).filter(|p| p.spec == *spec).cloned();
            let peer = match kept {
                Some(peer) => {
                    let generation = psk.map_or(0, |p| p.generation);
                    let at = || now + switch_delay(&own, &spec.public_key, generation);
                    peer.sessions().offer(psk, at, || self.index());
                    peer
                }
                None => {
                    let keys = SessionKeys {
                        private: private_key.clone(),
                        peer: spec.public_key,
                    };
                    Arc::new(Peer {
                        spec: spec.clone(),
                        sessions: Mutex::new(Sessions::new(keys, psk, self.index())),
                    })
                }
            };
            next.insert(spec.node, peer);
        }
        *table = next;
    }

    /// A session index no other session of this node has (24 bits: boringtun
    /// shifts it left by 8).
    fn index(&self) -> u32 {
        self.next_index.fetch_add(1, Relaxed) & 0x00ff_ffff
    }

    /// What `shoal dp peers` shows, sorted by node.
    pub(crate) fn status(&self) -> Vec<WgPeerStatus> {
        let mut all: Vec<WgPeerStatus> = self
            .all()
            .iter()
            .map(|peer| {
                let sessions = peer.sessions();
                let (since, tx, rx) = sessions.stats();
                WgPeerStatus {
                    node: peer.spec.node,
                    public_key: peer.spec.public_key.to_string(),
                    endpoint: peer.spec.endpoint,
                    last_handshake_secs: since.map(|d| d.as_secs()),
                    tx_bytes: tx as u64,
                    rx_bytes: rx as u64,
                    psk_generation: sessions.current.generation,
                    rotating: sessions.rotating(),
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
