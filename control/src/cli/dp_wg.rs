//! `shoal dp peers`: the node's WireGuard peers of encrypted networks, as
//! its daemon's WireGuard path last reported them.

use shoal_dataplane::{PinPaths, wg};

use super::output::{Format, Table, print};

/// `2`, `2 (rotating)`, or `-` without the swarm's preshared key.
fn key_generation(peer: &wg::WgPeerStatus) -> String {
    match (peer.psk_generation, peer.rotating) {
        (0, _) => "-".to_owned(),
        (generation, false) => generation.to_string(),
        (generation, true) => format!("{generation} (rotating)"),
    }
}

/// Prints the peers (key, endpoint, last handshake, bytes each way, the
/// generation of the swarm's key their session uses) and the path's drop
/// counters.
pub fn peers(pins: &PinPaths, format: Format) -> anyhow::Result<()> {
    let Some(status) = wg::read_status(pins)? else {
        anyhow::bail!(
            "no WireGuard status at {}: is this node's daemon running?",
            wg::status_file(pins).display()
        );
    };
    print(format, &status, |status| {
        let mut t = Table::new(&[
            "NODE",
            "PUBLIC KEY",
            "ENDPOINT",
            "LAST HANDSHAKE",
            "RX BYTES",
            "TX BYTES",
            "KEY GEN",
        ]);
        for p in &status.peers {
            let handshake = p
                .last_handshake_secs
                .map_or_else(|| "never".to_owned(), |s| format!("{s}s ago"));
            t.row(vec![
                p.node.to_string(),
                p.public_key.clone(),
                p.endpoint.to_string(),
                handshake,
                p.rx_bytes.to_string(),
                p.tx_bytes.to_string(),
                key_generation(p),
            ]);
        }
        t
    })
}
