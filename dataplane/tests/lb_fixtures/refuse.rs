//! A service without active backends: TCP gets a reset back where it came
//! from, UDP an ICMP port unreachable, everything else is dropped
//! `no-backend`, and a reset is never answered with a reset.

use super::*;
use etherparse::{Icmpv4Header, Icmpv4Type, icmpv4::DestUnreachableHeader};

fn refused(description: &'static str, input: Pkt, reset_frame: Vec<u8>) -> Fixture {
    Fixture::redirect(description, input.build(), Stat::Reset)
        .output(reset_frame)
        .counter_bytes(Stat::Reset, RESET_LEN)
}

/// The reset to the client task for its segment to EMPTY_VIP:80.
fn task_reset(sport: u16, seq: u32, ack: Option<u32>) -> Vec<u8> {
    reset(
        (CLIENT_HOST_MAC, CLIENT_MAC),
        (EMPTY_VIP, WEB),
        (CLIENT, sport),
        seq,
        ack,
    )
}

/// The ICMP port unreachable a task gets back for its datagram: from the
/// address it sent to, quoting its IPv4 header and 8 bytes (RFC 792).
fn unreachable(description: &'static str, input: Pkt) -> Fixture {
    let frame = input.build();
    let quote = &frame[14..14 + 28];
    let icmp = Icmpv4Header::with_checksum(
        Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Port),
        quote,
    );
    let mut ip = Ipv4Header::new(
        (icmp.header_len() + quote.len()) as u16,
        64,
        IpNumber::ICMP,
        EMPTY_VIP.octets(),
        CLIENT.octets(),
    )
    .unwrap();
    ip.dont_fragment = false;
    ip.identification = 0;
    ip.header_checksum = ip.calc_header_checksum();
    let mut out = Ethernet2Header {
        source: CLIENT_HOST_MAC,
        destination: CLIENT_MAC,
        ether_type: EtherType::IPV4,
    }
    .to_bytes()
    .to_vec();
    out.extend_from_slice(&ip.to_bytes());
    out.extend_from_slice(&icmp.to_bytes());
    out.extend_from_slice(quote);
    let len = out.len();
    Fixture::redirect(description, frame, Stat::Unreachable)
        .output(out)
        .counter_bytes(Stat::Unreachable, len)
}

fn to_empty(sport: u16) -> Pkt {
    from_client(Pkt::tcp(CLIENT, sport, EMPTY_VIP, WEB))
}

#[test]
fn no_backend_resets_or_drops() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let task = [
        refused(
            "SYN to a VIP with no active backend: RST|ACK from VIP:80, ack = seq + 1",
            to_empty(43_000).syn().seq(7_000),
            task_reset(43_000, 0, Some(7_001)),
        ),
        refused(
            "SYN with 5 bytes of data: ack = seq + 1 + 5, the data cut off",
            to_empty(43_001).syn().seq(7_000).payload(b"hello"),
            task_reset(43_001, 0, Some(7_006)),
        ),
        refused(
            "a mid-stream ACK (conntrack lost): RST with seq = its ack, no ACK",
            to_empty(43_002).seq(100).ack(0xdead_beef).payload(b"x"),
            task_reset(43_002, 0xdead_beef, None),
        ),
        refused(
            "a FIN without ACK: acknowledged, FIN counts one",
            to_empty(43_003).fin().seq(10),
            task_reset(43_003, 0, Some(11)),
        ),
        refused(
            "a SYN padded to 60 bytes: the padding goes with the cut",
            to_empty(43_004).syn().pad_to(60),
            task_reset(43_004, 0, Some(1_001)),
        ),
        unreachable(
            "UDP to a VIP with no active backend: ICMP port unreachable from the VIP, quoting 28 bytes",
            from_client(Pkt::udp(CLIENT, 43_005, EMPTY_VIP, DNS)).payload(b"q"),
        ),
        Fixture::drop(
            "a RST to a VIP with no backend: dropped, never answered (no reset storm)",
            to_empty(43_006).rst().build(),
            DropReason::NoBackend,
        ),
        Fixture::drop(
            "a RST|ACK to a VIP with no backend: dropped too",
            to_empty(43_007).rst().ack(5).build(),
            DropReason::NoBackend,
        ),
        Fixture::drop(
            "a SYN with IPv4 options to a VIP with no backend: refused silently",
            to_empty(43_008).syn().ipv4_options(&[1, 1, 1, 0]).build(),
            DropReason::NoBackend,
        ),
    ]
    .map(|f| f.maps((node(dev, &[]), services())).on_ifindex(dev.client));
    harness.run_table(&[Program::TaskTc], &task);

    let mesh = [
        refused(
            "SYN to a published port with no backend: RST|ACK from node:port out of the underlay",
            from_router(Pkt::tcp(MESH_CLIENT, 52_000, THIS_NODE, PUB_EMPTY))
                .syn()
                .seq(1),
            reset(
                (UNDERLAY_MAC, ROUTER_MAC),
                (THIS_NODE, PUB_EMPTY),
                (MESH_CLIENT, 52_000),
                0,
                Some(2),
            ),
        ),
        Fixture::drop(
            "a RST to a published port with no backend: dropped no-backend",
            from_router(Pkt::tcp(MESH_CLIENT, 52_001, THIS_NODE, PUB_EMPTY))
                .rst()
                .build(),
            DropReason::NoBackend,
        ),
    ]
    .map(|f| f.maps((node(dev, &[]), services())));
    harness.run_table(&[Program::UnderlayTc], &mesh);
}

/// The reset's checksums as etherparse computes them (a second opinion on
/// the byte-exact fixture, whose expected frame etherparse built too).
#[test]
fn reset_checksums_verify() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let fixture = refused(
        "probe",
        to_empty(43_100).syn().seq(0xffff_fffe).payload(b"abc"),
        task_reset(43_100, 0, Some(0xffff_fffe_u32.wrapping_add(4))),
    )
    .maps((node(dev, &[]), services()))
    .on_ifindex(dev.client);
    let (result, out) = harness.run_capturing(&fixture, Program::TaskTc);
    result.unwrap();
    let out = out.unwrap();
    assert_checksums(&out, false);
    let sliced = SlicedPacket::from_ethernet(&out).unwrap();
    let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
        panic!("not TCP")
    };
    assert!(tcp.rst() && tcp.ack() && !tcp.syn());
    assert_eq!(tcp.acknowledgment_number(), 2, "sequence space wraps");
}
