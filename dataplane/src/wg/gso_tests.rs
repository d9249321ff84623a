//! Segmentation of real VXLAN super-frames, every checksum verified by
//! etherparse.

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

use super::*;

const MSS: usize = 1000;
const SEQ: u32 = 0xffff_fe00; // wraps within the frame
const INNER_ID: u16 = 0xfffe;

/// A kernel-style VXLAN super-frame: Ethernet/IPv4/UDP 4789/VXLAN around
/// Ethernet/IPv4/TCP with `payload`, lengths covering all of it, the TCP
/// checksum holding only the pseudo-header sum (`NEEDS_CSUM`).
fn super_frame(payload: &[u8], flags: u8) -> Vec<u8> {
    let mut inner = Vec::new();
    let mut tcp = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 10, 0, 2], [10, 10, 0, 3], 64)
        .tcp(40_000, 5201, SEQ, 500);
    tcp = tcp.ack(77);
    if flags & TCP_PSH != 0 {
        tcp = tcp.psh();
    }
    if flags & TCP_FIN != 0 {
        tcp = tcp.fin();
    }
    if flags & TCP_CWR != 0 {
        tcp = tcp.cwr();
    }
    tcp.write(&mut inner, payload).unwrap();
    inner[14 + 4..14 + 6].copy_from_slice(&INNER_ID.to_be_bytes());
    csum::fix_ipv4_header(&mut inner[14..]);
    let tcp_at = 14 + 20;
    let pseudo = !csum::finish(csum::pseudo_header(&inner[14..], 6, inner.len() - tcp_at));
    inner[tcp_at + 16..tcp_at + 18].copy_from_slice(&pseudo.to_be_bytes());
    let mut vxlan = vec![0x08, 0, 0, 0, 0, 0x10, 0x01, 0];
    vxlan.extend_from_slice(&inner);
    let mut frame = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 1, 1], [2, 0, 0, 0, 1, 2])
        .ipv4([198, 18, 0, 11], [198, 18, 0, 12], 64)
        .udp(50_000, 4789)
        .write(&mut frame, &vxlan)
        .unwrap();
    // shoal's encapsulation sends no outer UDP checksum.
    frame[14 + 20 + 6..14 + 20 + 8].fill(0);
    frame
}

fn gso_hdr(gso_size: usize) -> VnetHdr {
    VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_UDP_TUNNEL_IPV4 | GSO_TCPV4,
        gso_size: gso_size as u16,
        csum_start: (14 + 20 + 8 + 8 + 14 + 20) as u16,
        csum_offset: 16,
    }
}

/// What one segment carries, after every checksum and length checked.
struct Seen {
    seq: u32,
    inner_id: u16,
    flags: u8,
    payload: Vec<u8>,
}

fn check_segment(segment: &[u8]) -> Seen {
    let outer = SlicedPacket::from_ethernet(segment).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &outer.net else {
        panic!("outer not IPv4")
    };
    let header = ip.header().to_header();
    assert_eq!(ip.header().header_checksum(), header.calc_header_checksum());
    assert_eq!(usize::from(ip.header().total_len()), segment.len() - 14);
    let Some(TransportSlice::Udp(udp)) = &outer.transport else {
        panic!("outer not UDP")
    };
    assert_eq!(usize::from(udp.length()), segment.len() - 14 - 20);
    assert_eq!(udp.checksum(), 0, "outer UDP checksum left out");
    let inner_frame = &udp.payload()[8..];
    let inner = SlicedPacket::from_ethernet(inner_frame).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &inner.net else {
        panic!("inner not IPv4")
    };
    let header = ip.header().to_header();
    assert_eq!(ip.header().header_checksum(), header.calc_header_checksum());
    assert_eq!(usize::from(ip.header().total_len()), inner_frame.len() - 14);
    let Some(TransportSlice::Tcp(tcp)) = &inner.transport else {
        panic!("inner not TCP")
    };
    let want = tcp
        .to_header()
        .calc_checksum_ipv4(&header, tcp.payload())
        .unwrap();
    assert_eq!(tcp.checksum(), want, "inner TCP checksum");
    Seen {
        seq: tcp.sequence_number(),
        inner_id: ip.header().identification(),
        flags: inner_frame[14 + 20 + 13],
        payload: tcp.payload().to_vec(),
    }
}

fn segments_of(hdr: &VnetHdr, frame: &mut [u8]) -> Vec<Seen> {
    let mut scratch = vec![0u8; 4096];
    let mut seen = Vec::new();
    for_each_packet(hdr, frame, &mut scratch, |s| seen.push(check_segment(s))).unwrap();
    seen
}

#[test]
fn a_super_frame_becomes_valid_mss_sized_segments() {
    let payload: Vec<u8> = (0..2500u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut frame = super_frame(&payload, TCP_PSH | TCP_FIN | TCP_CWR);
    let seen = segments_of(&gso_hdr(MSS), &mut frame);
    let sizes: Vec<usize> = seen.iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    let joined: Vec<u8> = seen.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(joined, payload, "the payload, in order, nothing lost");
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(
            s.seq,
            SEQ.wrapping_add((i * MSS) as u32),
            "segment {i}'s sequence"
        );
        assert_eq!(
            s.inner_id,
            INNER_ID.wrapping_add(i as u16),
            "segment {i}'s IP id"
        );
    }
    let flags: Vec<u8> = seen
        .iter()
        .map(|s| s.flags & (TCP_PSH | TCP_FIN | TCP_CWR))
        .collect();
    // CWR only on the first segment, PSH and FIN only on the last.
    assert_eq!(flags, [TCP_CWR, 0, TCP_PSH | TCP_FIN]);
}

#[test]
fn a_payload_of_whole_segments_has_no_empty_tail() {
    let mut frame = super_frame(&[0xab; 2 * MSS], 0);
    let seen = segments_of(&gso_hdr(MSS), &mut frame);
    assert_eq!(seen.len(), 2);
}

#[test]
fn a_plain_frame_gets_its_partial_checksum_completed() {
    let mut frame = super_frame(&[1, 2, 3, 4, 5], TCP_PSH);
    let mut hdr = gso_hdr(0);
    hdr.gso_type = GSO_NONE;
    let seen = segments_of(&hdr, &mut frame);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].payload, [1, 2, 3, 4, 5]);
}

#[test]
fn other_gso_types_and_broken_offsets_are_refused() {
    let mut frame = super_frame(&[0; 3000], 0);
    let mut scratch = vec![0u8; 4096];
    let mut hdr = gso_hdr(MSS);
    hdr.gso_type = GSO_TCPV4;
    let r = for_each_packet(&hdr, &mut frame, &mut scratch, |_| panic!("nothing"));
    assert_eq!(r, Err(GsoError::Unsupported(GSO_TCPV4)));
    hdr.gso_type = GSO_NONE;
    hdr.csum_start = frame.len() as u16;
    let r = for_each_packet(&hdr, &mut frame, &mut scratch, |_| panic!("nothing"));
    assert_eq!(r, Err(GsoError::BadChecksumOffset));
    let mut short = frame[..60].to_vec();
    let r = for_each_packet(&gso_hdr(MSS), &mut short, &mut scratch, |_| {
        panic!("nothing")
    });
    assert_eq!(r, Err(GsoError::Truncated));
}

#[test]
fn parses_the_little_endian_header() {
    let mut raw = [0u8; VNET_HDR_LEN];
    raw[..10].copy_from_slice(&[1, 0x21, 0x88, 0, 0xe8, 0x03, 0x54, 0, 16, 0]);
    assert_eq!(VnetHdr::parse(&raw).unwrap(), gso_hdr(MSS));
    assert_eq!(VnetHdr::parse(&raw[..10]), Err(GsoError::Truncated));
}
