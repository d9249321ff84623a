//! shoal's userspace WireGuard path for encrypted overlay networks.
//!
//! The eBPF programs wrap a frame of an encrypted network in VXLAN as for
//! any other network, then redirect it to the TAP device [`WG_IFACE`]
//! instead of the underlay NIC. A worker reads it there, picks the peer by
//! the outer destination (the receiving node's underlay address), encrypts
//! the VXLAN packet with that node pair's WireGuard session (boringtun's
//! Noise core) and sends it on UDP. The receiving worker decrypts, checks
//! that the VXLAN packet's outer source is the peer the key belongs to
//! (WireGuard's cryptokey routing) and writes it back into its TAP device,
//! whose TC ingress program unwraps it like the underlay's.
//!
//! Nothing of an encrypted network is ever sent in clear: a frame for a
//! node without a known key is dropped and counted ([`WgCounters`]).

mod batch;
mod csum;
mod gro;
mod gso;
mod keys;
mod peers;
mod session;
mod tap;
mod udp;
mod worker;

use std::{
    io,
    net::{Ipv4Addr, SocketAddrV4},
    sync::Arc,
};

use serde::{Deserialize, Serialize};

pub use keys::{KeyError, PresharedKey, PrivateKey, PublicKey};
pub use peers::WgPeerSpec;

use worker::Shared;

/// Name of the node's WireGuard TAP device.
pub const WG_IFACE: &str = "shoal-wg0";
/// Directory of the WireGuard status files `shoal dp peers` reads.
pub const STATUS_DIR: &str = "/run/shoal/wg";

/// Where the WireGuard path of the node whose pins are `pins` writes its
/// status (every second; `shoal dp peers` reads it).
pub fn status_file(pins: &crate::PinPaths) -> std::path::PathBuf {
    let node = pins
        .root()
        .file_name()
        .map_or_else(|| "node".into(), |n| n.to_string_lossy().into_owned());
    std::path::Path::new(STATUS_DIR).join(format!("{node}.json"))
}

/// The status the node's WireGuard path last wrote, if it runs.
pub fn read_status(pins: &crate::PinPaths) -> Result<Option<WgStatus>, io::Error> {
    match std::fs::read(status_file(pins)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(io::Error::other),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Errors starting the WireGuard path.
#[derive(Debug, thiserror::Error)]
pub enum WgError {
    /// Opening or configuring the TAP device failed.
    #[error("WireGuard device {iface}: {source}")]
    Tap {
        /// Device name.
        iface: &'static str,
        /// The system error.
        source: io::Error,
    },
    /// Binding the UDP socket failed.
    #[error("WireGuard UDP port {port}: {source}")]
    Socket {
        /// The port.
        port: u16,
        /// The system error.
        source: io::Error,
    },
    /// Bringing the device up failed.
    #[error(transparent)]
    Iproute(#[from] crate::iproute::IprouteError),
    /// Starting a worker thread failed.
    #[error("starting a WireGuard worker: {source}")]
    Thread {
        /// The system error.
        source: io::Error,
    },
}

/// Packets the WireGuard path dropped, by reason (never logged per packet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WgCounters {
    /// Frames for a node whose key this node does not know.
    pub no_peer_key: u64,
    /// Datagrams from an address that is no known peer's endpoint.
    pub unknown_sender: u64,
    /// Datagrams that failed to decrypt or authenticate.
    pub decrypt_failed: u64,
    /// Decrypted packets whose outer source is not the peer's address.
    pub wrong_source: u64,
    /// Frames on the TAP device that are not IPv4 VXLAN packets.
    pub malformed: u64,
    /// Sends or TAP writes the kernel refused.
    pub io_errors: u64,
}

/// One peer as `shoal dp peers` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WgPeerStatus {
    /// The peer node's underlay address.
    pub node: Ipv4Addr,
    /// Its public key, base64.
    pub public_key: String,
    /// Where its datagrams go.
    pub endpoint: SocketAddrV4,
    /// Seconds since the last completed handshake, if any.
    pub last_handshake_secs: Option<u64>,
    /// Plaintext bytes sent to it.
    pub tx_bytes: u64,
    /// Plaintext bytes received from it.
    pub rx_bytes: u64,
    /// Generation of the swarm's preshared key the current session uses
    /// (0: none).
    #[serde(default)]
    pub psk_generation: u64,
    /// A key rotation is under way with this peer (a switch pending, or
    /// the previous session still decrypting stragglers).
    #[serde(default)]
    pub rotating: bool,
}

/// The WireGuard path's state as `shoal dp peers` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WgStatus {
    /// This node's public key, base64.
    pub public_key: String,
    /// The UDP port it listens on.
    pub port: u16,
    /// Its peers, by underlay address.
    pub peers: Vec<WgPeerStatus>,
    /// Whether the TAP device hands over super-frames (checksum and
    /// UDP-tunnel segmentation offloads, Linux 6.17+).
    #[serde(default)]
    pub tap_offloads: bool,
    /// Super-frames the receive worker wrote into the TAP device, each
    /// several decrypted segments of one TCP stream joined (`gro.rs`).
    #[serde(default)]
    pub rx_super_frames: u64,
    /// Drops.
    pub counters: WgCounters,
}

/// A running WireGuard path: the TAP device, the socket and the workers.
/// The workers live as long as the process.
#[derive(Clone)]
pub struct WgDevice {
    shared: Arc<Shared>,
}

impl WgDevice {
    /// Create (or take over, after a restart) the TAP device, bind UDP
    /// `port` and start the workers, with no peers yet: until
    /// [`WgDevice::set_peers`] names them, every frame is dropped. The
    /// status goes to `status_file` every second.
    pub fn start(
        private_key: PrivateKey,
        port: u16,
        status_file: std::path::PathBuf,
    ) -> Result<WgDevice, WgError> {
        let tap = tap::Tap::open(WG_IFACE).map_err(|source| WgError::Tap {
            iface: WG_IFACE,
            source,
        })?;
        // The kernel's own IPv6 chatter (router solicitations, MLD) would
        // reach the workers as frames that are not VXLAN; best effort.
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{WG_IFACE}/disable_ipv6"),
            "1",
        );
        // The device carries whole VXLAN frames; the task MTU keeps them
        // within the underlay, so this only has to never be the limit.
        crate::iproute::set_up(WG_IFACE, tap::TAP_MTU)?;
        tap.set_nonblocking().map_err(|source| WgError::Tap {
            iface: WG_IFACE,
            source,
        })?;
        let socket = std::net::UdpSocket::bind(("0.0.0.0", port))
            .map_err(|source| WgError::Socket { port, source })?;
        // Coalesced receives are an optimisation: without them (kernels
        // before 5.0) every datagram arrives on its own.
        let _ = udp::enable_gro(std::os::fd::AsRawFd::as_raw_fd(&socket));
        let shared = Arc::new(Shared::new(private_key, port, tap, socket));
        worker::spawn(&shared).map_err(|source| WgError::Thread { source })?;
        let device = WgDevice { shared };
        let reporter = device.clone();
        std::thread::Builder::new()
            .name("wg-status".into())
            .spawn(move || reporter.report_status(&status_file))
            .map_err(|source| WgError::Thread { source })?;
        Ok(device)
    }

    /// Make the peers exactly `peers`, keyed with the swarm's preshared
    /// key `psk`: a peer whose key or endpoint is unchanged keeps its
    /// session (a new `psk` rotates it without a gap); a withdrawn one is
    /// gone at once.
    pub fn set_peers(&self, peers: &[WgPeerSpec], psk: Option<&PresharedKey>) {
        self.shared.peers.set(&self.shared.private_key, peers, psk);
    }

    /// Write the status to `file` every second (atomically: a reader never
    /// sees half a file). Failures are skipped; the next second retries.
    fn report_status(&self, file: &std::path::Path) {
        loop {
            if let (Some(dir), Ok(json)) = (file.parent(), serde_json::to_vec(&self.status())) {
                let tmp = file.with_extension("tmp");
                let _ = std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&tmp, json))
                    .and_then(|()| std::fs::rename(&tmp, file));
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }

    /// The current peers and counters.
    pub fn status(&self) -> WgStatus {
        WgStatus {
            public_key: self.shared.private_key.public_key().to_string(),
            port: self.shared.port,
            peers: self.shared.peers.status(),
            tap_offloads: self.shared.tap_offloads(),
            rx_super_frames: self.shared.rx_super_frames(),
            counters: self.shared.counters(),
        }
    }
}

impl std::fmt::Debug for WgDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WgDevice")
            .field("port", &self.shared.port)
            .finish_non_exhaustive()
    }
}
