//! Coalescing of real decrypted VXLAN segments, every checksum verified
//! by etherparse, and the round trip through the send side's cutter.

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

use super::super::gso::{self, VnetHdr};
use super::*;

const MSS: usize = 1000;
const SEQ: u32 = 0xffff_fd00; // wraps within a run
const OUTER_ID: u16 = 0x1200;
const INNER_ID: u16 = 0xfffe;

/// Segment `n` of a stream (payload `len` bytes, sequence number `seq`)
/// as the receive worker decrypts it: IPv4/UDP 4789/VXLAN/Ethernet/IPv4/
/// TCP, every checksum complete, no outer UDP checksum.
fn segment(n: u16, seq: u32, len: usize, psh: bool, dport: u16) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| (seq as usize + i) as u8).collect();
    let mut inner = Vec::new();
    let mut tcp = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 10, 0, 2], [10, 10, 0, 3], 64)
        .tcp(40_000, dport, seq, 500)
        .ack(77);
    if psh {
        tcp = tcp.psh();
    }
    tcp.write(&mut inner, &payload).unwrap();
    inner[14 + 4..14 + 6].copy_from_slice(&INNER_ID.wrapping_add(n).to_be_bytes());
    csum::fix_ipv4_header(&mut inner[14..]);
    let mut vxlan = vec![0x08, 0, 0, 0, 0, 0x10, 0x01, 0];
    vxlan.extend_from_slice(&inner);
    let mut packet = Vec::new();
    PacketBuilder::ipv4([198, 18, 0, 11], [198, 18, 0, 12], 64)
        .udp(50_000, 4789)
        .write(&mut packet, &vxlan)
        .unwrap();
    packet[4..6].copy_from_slice(&OUTER_ID.wrapping_add(n).to_be_bytes());
    csum::fix_ipv4_header(&mut packet);
    packet[OUTER_UDP + 6..OUTER_UDP + 8].fill(0);
    packet
}

/// `count` segments of one stream, the last `last` bytes long.
fn stream(count: u16, last: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|n| {
            let len = if n + 1 == count { last } else { MSS };
            segment(
                n,
                SEQ.wrapping_add(u32::from(n) * MSS as u32),
                len,
                false,
                5201,
            )
        })
        .collect()
}

/// Push every packet, flush, and return what was written.
fn coalesce(packets: &[Vec<u8>], enabled: bool) -> Vec<Vec<u8>> {
    let mut c = Coalescer::new(enabled);
    let mut written = Vec::new();
    let mut write = |frame: &mut [u8]| written.push(frame.to_vec());
    for p in packets {
        assert!(c.push(p, &mut write));
    }
    c.flush(&mut write);
    written
}

/// Checks a written super-frame (virtio-net header, Ethernet, packet):
/// header fields, lengths and checksums; returns its TCP payload.
fn check_super_frame(written: &[u8], segments: usize) -> Vec<u8> {
    let le = |at: usize| usize::from(u16::from_le_bytes([written[at], written[at + 1]]));
    assert_eq!(written[0], F_NEEDS_CSUM);
    assert_eq!(written[1], GSO_UDP_TUNNEL_IPV4 | GSO_TCPV4);
    assert_eq!(
        le(2),
        14 + TCP + 20,
        "hdr_len: through the inner TCP header"
    );
    assert_eq!(le(4), MSS, "gso_size");
    assert_eq!((le(6), le(8)), (14 + TCP, 16), "csum_start/offset");
    assert_eq!((le(20), le(22)), (14 + OUTER_UDP, 14 + INNER_IP));
    let frame = &written[VNET_HDR_LEN..];
    let outer = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &outer.net else {
        panic!("outer not IPv4")
    };
    let h = ip.header().to_header();
    assert_eq!(ip.header().header_checksum(), h.calc_header_checksum());
    assert_eq!(usize::from(h.total_len), frame.len() - 14);
    assert_eq!(h.identification, OUTER_ID, "the first segment's id");
    let Some(TransportSlice::Udp(udp)) = &outer.transport else {
        panic!("outer not UDP")
    };
    assert_eq!(usize::from(udp.length()), frame.len() - 14 - 20);
    assert_eq!(udp.checksum(), 0);
    let inner = SlicedPacket::from_ethernet(&udp.payload()[8..]).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &inner.net else {
        panic!("inner not IPv4")
    };
    let ih = ip.header().to_header();
    assert_eq!(ip.header().header_checksum(), ih.calc_header_checksum());
    assert_eq!(usize::from(ih.total_len), frame.len() - 14 - INNER_IP);
    let Some(TransportSlice::Tcp(tcp)) = &inner.transport else {
        panic!("inner not TCP")
    };
    assert_eq!(tcp.sequence_number(), SEQ);
    let tcp_len = frame.len() - 14 - TCP;
    let pseudo = !csum::finish(csum::pseudo_header(&frame[14 + INNER_IP..], 6, tcp_len));
    assert_eq!(tcp.checksum(), pseudo, "partial: the pseudo-header sum");
    assert!(tcp.payload().len() > (segments - 1) * MSS);
    tcp.payload().to_vec()
}

#[test]
fn segments_of_one_stream_become_one_super_frame_the_sender_cuts_back() {
    let packets = stream(5, 300);
    let written = coalesce(&packets, true);
    assert_eq!(written.len(), 1, "one write for the run");
    let payload = check_super_frame(&written[0], 5);
    let sent: Vec<u8> = packets
        .iter()
        .flat_map(|p| p[TCP + 20..].to_vec())
        .collect();
    assert_eq!(payload, sent);
    // The send side's cutter turns it back into the very packets.
    let mut frame = written[0].clone();
    let hdr = VnetHdr::parse(&frame).unwrap();
    let mut scratch = vec![0; 65_536];
    let mut cut = Vec::new();
    gso::for_each_packet(&hdr, &mut frame[VNET_HDR_LEN..], &mut scratch, |p| {
        cut.push(p[14..].to_vec());
    })
    .unwrap();
    assert_eq!(cut, packets);
}

#[test]
fn a_run_ends_at_a_gap_a_push_a_short_segment_or_another_flow() {
    let mut packets = stream(2, MSS);
    // A gap: the next sequence number skips a segment.
    packets.push(segment(
        2,
        SEQ.wrapping_add(3 * MSS as u32),
        MSS,
        false,
        5201,
    ));
    // A PUSH segment joins, then ends the run.
    packets.push(segment(
        3,
        SEQ.wrapping_add(4 * MSS as u32),
        MSS,
        true,
        5201,
    ));
    packets.push(segment(
        4,
        SEQ.wrapping_add(5 * MSS as u32),
        MSS,
        false,
        5201,
    ));
    // Another flow.
    packets.push(segment(
        5,
        SEQ.wrapping_add(6 * MSS as u32),
        MSS,
        false,
        5202,
    ));
    // A short segment joins, a longer one after it cannot.
    packets.push(segment(
        6,
        SEQ.wrapping_add(7 * MSS as u32),
        MSS,
        false,
        5202,
    ));
    packets.push(segment(
        7,
        SEQ.wrapping_add(8 * MSS as u32),
        10,
        false,
        5202,
    ));
    packets.push(segment(
        8,
        SEQ.wrapping_add(8 * MSS as u32 + 10),
        MSS,
        false,
        5202,
    ));
    let written = coalesce(&packets, true);
    let segments: Vec<u8> = written.iter().map(|w| w[1]).collect();
    let tunnel = GSO_UDP_TUNNEL_IPV4 | GSO_TCPV4;
    // [0,1] [2,3] [4] [5,6,7] [8]
    assert_eq!(segments, [tunnel, tunnel, 0, tunnel, 0]);
    assert_eq!(
        written[2][BASE..],
        packets[4][..],
        "a lone segment as it came"
    );
    assert_eq!(written[4][BASE..], packets[8][..]);
    assert_eq!(written[1][BASE + TCP + 13], TCP_ACK | TCP_PSH);
}

#[test]
fn anything_but_a_tcp_segment_is_written_alone_and_unchanged() {
    let mut udp = Vec::new();
    PacketBuilder::ipv4([198, 18, 0, 11], [198, 18, 0, 12], 64)
        .udp(50_000, 4789)
        .write(&mut udp, &[0u8; 100])
        .unwrap();
    let mut packets = stream(2, MSS);
    packets.insert(1, udp);
    let written = coalesce(&packets, true);
    assert_eq!(written.len(), 3);
    for (w, p) in written.iter().zip(&packets) {
        assert_eq!(w[..VNET_HDR_LEN], [0; VNET_HDR_LEN], "nothing to offload");
        assert_eq!(w[BASE - 2..BASE], [0x08, 0x00]);
        assert_eq!(w[BASE..], p[..]);
    }
}

#[test]
fn disabled_writes_every_packet_alone() {
    let packets = stream(4, MSS);
    let written = coalesce(&packets, false);
    assert_eq!(written.len(), 4);
    for (w, p) in written.iter().zip(&packets) {
        assert_eq!(w[BASE..], p[..]);
    }
}
