//! Encrypted overlay networks (`--opt encrypted`) on real containers in a
//! two-node lab swarm: their traffic between nodes travels only inside
//! WireGuard, never in clear.
//!
//! ```text
//!   n1: task "cli" (secure + plain)            n2: task "srv" (secure + plain)
//!        │ secure: VXLAN → shoal-wg0 → WireGuard UDP 51820 ──► decrypt → shoal-wg0 → srv
//!        │ plain:  VXLAN UDP 4789 ────────────────────────────────────────────────► srv
//!   capture on n1's underlay: the marker never appears, the secure VNI never
//!   appears as VXLAN, tshark decodes WireGuard.
//! ```
#![expect(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use serde_json::Value;
use shoal_netns_tests::overlay_kit::encrypted::{
    Background, MARKER, UDP_PORT, addr_on, encrypted_lab, file_contains, marker_round_trips, netns,
    spawn_in, start_echo_servers, the_task, vni_of, wg_peers, wg_status, wireguard_frames,
};
use shoal_netns_tests::overlay_kit::stats::dp_counter;
use shoal_netns_tests::overlay_kit::transfer::tcp_transfer;
use shoal_netns_tests::overlay_kit::{Capture, vxlan_vnis};
use shoal_netns_tests::services_kit::{ServiceLab, get_from_task};
use shoal_netns_tests::swarm_kit::{eventually, field};

/// A hand-built clear VXLAN frame for `vni`, carrying a UDP datagram to `to`.
fn clear_vxlan_payload(vni: u32, to: Ipv4Addr) -> Vec<u8> {
    let mut frame = vec![0x08, 0, 0, 0];
    frame.extend_from_slice(&vni.to_be_bytes()[1..]);
    frame.push(0);
    let dst_mac = [
        0x02,
        0x42,
        to.octets()[0],
        to.octets()[1],
        to.octets()[2],
        to.octets()[3],
    ];
    frame.extend_from_slice(&dst_mac);
    frame.extend_from_slice(&[0x02, 0x42, 1, 2, 3, 4, 0x08, 0x00]);
    let payload = MARKER.as_bytes();
    let total = u16::try_from(20 + 8 + payload.len()).unwrap();
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    let src = Ipv4Addr::new(to.octets()[0], to.octets()[1], to.octets()[2], 250);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&to.octets());
    let sum = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    frame.extend_from_slice(&ip);
    let udp_len = u16::try_from(8 + payload.len()).unwrap();
    frame.extend_from_slice(&4000u16.to_be_bytes());
    frame.extend_from_slice(&UDP_PORT.to_be_bytes());
    frame.extend_from_slice(&udp_len.to_be_bytes());
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn an_encrypted_network_crosses_nodes_only_inside_wireguard() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = encrypted_lab();
    let (cli, srv) = (the_task(&lab, "cli"), the_task(&lab, "srv"));
    let (cli_ns, srv_ns) = (netns(&cli), netns(&srv));
    let secure_vni = vni_of(&lab, "secure");
    let _servers = start_echo_servers(&srv_ns);
    let n1 = lab.nodes[0].lab_node();
    let pcap = n1.state_dir().join("underlay.pcap");
    let capture = Capture::start(n1.name(), "eth0", "udp", &pcap).unwrap();

    let to = addr_on(&srv, "secure");
    eventually(
        "the marker crossing the encrypted network (TCP and UDP)",
        || marker_round_trips(&cli_ns, to).then_some(()),
    );
    let (sent, received) = tcp_transfer(&cli_ns, &srv_ns, to, 20 << 20).unwrap();
    assert_eq!(
        sent, received,
        "20 MiB over the encrypted network arrived changed"
    );
    // The clear network of the same tasks works beside it.
    let plain = format!("http://{}:80/cgi-bin/who", addr_on(&srv, "plain"));
    let out = get_from_task(field(&cli, "id"), &plain);
    assert!(
        out.status.success(),
        "the clear network failed beside the encrypted one"
    );

    let pcap = capture.stop().unwrap();
    assert!(
        !file_contains(&pcap, MARKER),
        "the marker sent over the encrypted network is readable on the underlay"
    );
    let vnis = vxlan_vnis(&pcap).unwrap();
    assert!(
        !vnis.contains(&secure_vni),
        "clear VXLAN of the encrypted network (VNI {secure_vni}) on the underlay"
    );
    assert!(
        wireguard_frames(&pcap) > 100,
        "tshark decoded (almost) no WireGuard on the underlay"
    );
    let peers = n1.shoal(&["dp", "peers", "--format", "json"]).unwrap();
    let peers: Value = serde_json::from_str(&peers).unwrap();
    let peer = &peers["peers"][0];
    assert_eq!(
        peer["node"],
        lab.nodes[1].lab_node().addr().to_string(),
        "{peers}"
    );
    assert!(peer["tx_bytes"].as_u64().unwrap() > 20 << 20, "{peers}");
    assert!(peer["last_handshake_secs"].is_u64(), "{peers}");
    // The receiving node wrote the stream into its TAP device as
    // super-frames (several segments per write; UDP-tunnel GSO on TAP
    // write is Linux 6.17+, which the labs run on), which the kernel and
    // shoal_wg_tc took: the 20 MiB above arrived intact through them.
    eventually("n2 reporting super-frames written into its TAP", || {
        let n2 = wg_status(&lab, 1)?;
        let joined = n2["tap_offloads"].as_bool()? && n2["rx_super_frames"].as_u64()? > 10;
        joined.then_some(())
    });
}

#[test]
fn clear_vxlan_for_an_encrypted_network_is_dropped_and_counted() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = encrypted_lab();
    let (cli, srv) = (the_task(&lab, "cli"), the_task(&lab, "srv"));
    let secure_vni = vni_of(&lab, "secure");
    let to = addr_on(&srv, "secure");
    let (n1, n2) = (lab.nodes[0].lab_node(), lab.nodes[1].lab_node());
    let n2_vxlan = SocketAddrV4::new(n2.addr(), 4789);
    let payload = clear_vxlan_payload(secure_vni, to);
    let before = dp_counter(n2, "clear-on-encrypted");
    // Sent from n1 (a peer of n2): only the encryption rule refuses it.
    let frames = 3;
    eventually("n2 counting clear VXLAN for the encrypted VNI", || {
        let payload = payload.clone();
        n1.run_in(move || {
            let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
            for _ in 0..frames {
                socket.send_to(&payload, n2_vxlan).unwrap();
            }
        })
        .unwrap();
        (dp_counter(n2, "clear-on-encrypted") >= before + frames).then_some(())
    });
    // The clear network on the same nodes and tasks is unaffected.
    let plain = format!("http://{}:80/cgi-bin/who", addr_on(&srv, "plain"));
    let out = get_from_task(field(&cli, "id"), &plain);
    assert!(out.status.success(), "the clear network stopped working");
}

#[test]
fn a_removed_nodes_key_is_withdrawn_from_its_peers() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    // n1 and n2 share the encrypted network (a task each): each is the
    // other's WireGuard peer.
    let mut lab = encrypted_lab();
    let n2_addr = lab.nodes[1].lab_node().addr().to_string();
    eventually("n1 having n2 as its WireGuard peer", || {
        (wg_peer_nodes(&lab, 0) == [n2_addr.clone()]).then_some(())
    });
    lab.nodes[1].kill();
    eventually("n2 down", || {
        let list = lab.nodes[0].nodes().ok()?;
        list.iter()
            .any(|n| field(n, "hostname") == "n2" && field(n, "status") == "down")
            .then_some(())
    });
    lab.cli(&["node", "rm", "n2"]).unwrap();
    eventually("n2's key withdrawn from n1's WireGuard peers", || {
        wg_peer_nodes(&lab, 0).is_empty().then_some(())
    });
}

/// The underlay addresses of node `index`'s WireGuard peers (`dp peers`).
fn wg_peer_nodes(lab: &ServiceLab, index: usize) -> Vec<String> {
    let Some(peers) = wg_peers(lab, index) else {
        return vec!["(no status yet)".to_owned()];
    };
    peers
        .iter()
        .map(|p| p["node"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_daemon_restart_sends_nothing_of_an_encrypted_network_in_clear() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = encrypted_lab();
    let (cli, srv) = (the_task(&lab, "cli"), the_task(&lab, "srv"));
    let (cli_ns, srv_ns) = (netns(&cli), netns(&srv));
    let secure_vni = vni_of(&lab, "secure");
    let _servers = start_echo_servers(&srv_ns);
    let to = addr_on(&srv, "secure");
    eventually("the marker crossing the encrypted network", || {
        marker_round_trips(&cli_ns, to).then_some(())
    });
    let n1 = lab.nodes[0].lab_node().clone();
    let pcap = n1.state_dir().join("restart.pcap");
    let capture = Capture::start(n1.name(), "eth0", "udp", &pcap).unwrap();
    // Continuous traffic from cli while n1's daemon dies and comes back.
    let load = format!(
        "while true; do echo {MARKER} | socat -T1 - UDP:{to}:{UDP_PORT} >/dev/null 2>&1; sleep 0.05; done"
    );
    let traffic = Background(vec![spawn_in(&cli_ns, &load)]);
    std::thread::sleep(Duration::from_secs(1));
    lab.nodes[0].kill();
    std::thread::sleep(Duration::from_secs(2));
    lab.nodes[0].start().unwrap();
    eventually("the marker crossing again after the restart", || {
        marker_round_trips(&cli_ns, to).then_some(())
    });
    drop(traffic);
    let pcap = capture.stop().unwrap();
    assert!(
        !file_contains(&pcap, MARKER),
        "the marker was readable on the underlay around the daemon restart"
    );
    let vnis = vxlan_vnis(&pcap).unwrap();
    assert!(
        !vnis.contains(&secure_vni),
        "clear VXLAN of the encrypted network (VNI {secure_vni}) around the restart"
    );
    assert!(
        wireguard_frames(&pcap) > 0,
        "no WireGuard at all in the capture"
    );
}
