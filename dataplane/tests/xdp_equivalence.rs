//! The XDP fast path against the TC path it shortcuts: one table of
//! underlay frames, each run through `BPF_PROG_TEST_RUN` on
//! `shoal_underlay_xdp` (fast path on) and on `shoal_underlay_tc`. A row
//! says which of three things the XDP program must do:
//!
//! - `Fast`: deliver it itself — redirect, the same output bytes as TC
//!   (and as built here independently), the same counters plus `xdp-decap`;
//! - `Same`: drop it as TC does, for the same reason, with the same counters;
//! - `HandOff`: pass it to TC unchanged, counted `rx` and `pass` only (and
//!   what `classify` counts on both hooks), whatever TC then does.
//!
//! So the XDP path takes exactly the frames it fully handles and passes
//! the rest to the fallback. Needs root: it loads the programs.

mod support;

use std::net::Ipv4Addr;

use shoal_common::{
    DropReason, Stat,
    lb::{REPLY_RETURN_PATH, REPLY_REV_NAT, ReplyEntry},
    overlay::{VXLAN_FLAG_VNI, VXLAN_PORT},
};
use support::{
    ETH_LEN, Harness, LbMaps, OverlayMaps, Pkt, Program,
    harness::{MapSetup, RawRun},
    lb::{flow_key, monotonic_now_ns},
};

const VNI: u32 = 0x12_34_56;
const SECRET_VNI: u32 = 0x00_20_02;
const SUBNET: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 0);
const SECRET_SUBNET: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 0);
const TASK_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 3);
const TASK_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x03];
const TASK_HOST_MAC: [u8; 6] = [0x02, 0x5e, 0x00, 0x00, 0x00, 0x03];
const TASK_IFINDEX: u32 = 4242;
const SECRET_TASK_IP: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 3);
const REMOTE_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 4);
const REMOTE_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x04];
const NOBODY_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 200);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

const THIS_NODE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const OTHER_NODE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const STRANGER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);
const UNDERLAY_IFINDEX: u32 = 7;
const UNDERLAY_MAC: [u8; 6] = [0x02, 0xee, 0x00, 0x00, 0x00, 0x01];
const OTHER_NODE_MAC: [u8; 6] = [0x02, 0xee, 0x00, 0x00, 0x00, 0x02];

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_REDIRECT: u32 = 4;
const TC_ACT_SHOT: u32 = 2;
const TC_ACT_REDIRECT: u32 = 7;

/// What the XDP program must do with a row's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Fast,
    Same(DropReason),
    HandOff,
}

struct Row {
    what: &'static str,
    input: Vec<u8>,
    maps: Box<dyn MapSetup>,
    expect: Expect,
}

fn row(what: &'static str, input: Vec<u8>, expect: Expect) -> Row {
    row_with(what, input, node(), expect)
}

fn row_with(
    what: &'static str,
    input: Vec<u8>,
    maps: impl MapSetup + 'static,
    expect: Expect,
) -> Row {
    Row {
        what,
        input,
        maps: Box::new(maps),
        expect,
    }
}

/// This node with the fast path on: one local task, one remote, an
/// encrypted network with a local task too.
fn node() -> OverlayMaps {
    node_without_fast_path().xdp_fast_path()
}

fn node_without_fast_path() -> OverlayMaps {
    OverlayMaps::new()
        .node(UNDERLAY_IFINDEX, THIS_NODE, VXLAN_PORT)
        .network(VNI, SUBNET, 24)
        .network(SECRET_VNI, SECRET_SUBNET, 24)
        .encrypted(SECRET_VNI)
        .local_endpoint(VNI, TASK_IP, TASK_MAC, TASK_IFINDEX, TASK_HOST_MAC)
        .local_endpoint(
            SECRET_VNI,
            SECRET_TASK_IP,
            TASK_MAC,
            TASK_IFINDEX + 1,
            TASK_HOST_MAC,
        )
        .remote_endpoint(VNI, REMOTE_IP, REMOTE_MAC, OTHER_NODE)
}

/// VXLAN around `udp_payload` from `src` to this node on `port`.
fn outer(src: Ipv4Addr, port: u16, udp_payload: &[u8]) -> Pkt {
    Pkt::udp(src, 51_234, THIS_NODE, port)
        .macs(OTHER_NODE_MAC, UNDERLAY_MAC)
        .payload(udp_payload)
}

fn vxlan_header(flags: u8, vni: u32) -> Vec<u8> {
    let v = vni.to_be_bytes();
    vec![flags, 0, 0, 0, v[1], v[2], v[3], 0]
}

fn wrap_vni(vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut payload = vxlan_header(VXLAN_FLAG_VNI, vni);
    payload.extend_from_slice(inner);
    outer(OTHER_NODE, VXLAN_PORT, &payload).build()
}

fn wrap(inner: &[u8]) -> Vec<u8> {
    wrap_vni(VNI, inner)
}

fn udp_to(dst: Ipv4Addr) -> Pkt {
    Pkt::udp(REMOTE_IP, 40_000, dst, 53)
        .macs(REMOTE_MAC, TASK_MAC)
        .payload(b"answer")
}

fn tcp_to_task() -> Pkt {
    Pkt::tcp(REMOTE_IP, 40_001, TASK_IP, 22)
        .macs(REMOTE_MAC, TASK_MAC)
        .syn()
        .payload(b"x")
}

/// A reply entry for the inner UDP flow (task → remote seen backwards).
fn reply_state(kind: u32) -> LbMaps {
    let key = flow_key(VNI, REMOTE_IP, 40_000, TASK_IP, 53, 17);
    LbMaps::new().reply(
        key,
        ReplyEntry {
            last_seen_ns: monotonic_now_ns(),
            kind,
            orig_ip: CLIENT_IP.octets(),
            orig_port: 80u16.to_be_bytes(),
            _pad: [0; 2],
            via_node: OTHER_NODE.octets(),
            vni: VNI,
            flow_vni: VNI,
        },
    )
}

fn fast_rows() -> Vec<Row> {
    let mut opts_outer = outer(OTHER_NODE, VXLAN_PORT, &{
        let mut p = vxlan_header(VXLAN_FLAG_VNI, VNI);
        p.extend_from_slice(&udp_to(TASK_IP).build());
        p
    });
    opts_outer = opts_outer.ipv4_options(&[1; 8]);
    vec![
        row(
            "UDP in VXLAN for a local task",
            wrap(&udp_to(TASK_IP).build()),
            Expect::Fast,
        ),
        row(
            "TCP SYN in VXLAN for a local task",
            wrap(&tcp_to_task().build()),
            Expect::Fast,
        ),
        row("outer IPv4 with options", opts_outer.build(), Expect::Fast),
        row(
            "inner IPv4 with options",
            wrap(&udp_to(TASK_IP).ipv4_options(&[1, 1, 1, 0]).build()),
            Expect::Fast,
        ),
        row(
            "VXLAN with reserved flag bits set",
            {
                let mut p = vxlan_header(VXLAN_FLAG_VNI | 0x04, VNI);
                p.extend_from_slice(&udp_to(TASK_IP).build());
                outer(OTHER_NODE, VXLAN_PORT, &p).build()
            },
            Expect::Fast,
        ),
    ]
}

fn drop_rows() -> Vec<Row> {
    let good_inner = udp_to(TASK_IP).build();
    let with_header = |hdr: Vec<u8>, rest: &[u8]| {
        let mut p = hdr;
        p.extend_from_slice(rest);
        outer(OTHER_NODE, VXLAN_PORT, &p).build()
    };
    vec![
        row(
            "VXLAN from an address that is no peer",
            {
                let mut p = vxlan_header(VXLAN_FLAG_VNI, VNI);
                p.extend_from_slice(&good_inner);
                outer(STRANGER, VXLAN_PORT, &p).build()
            },
            Expect::Same(DropReason::UnknownPeer),
        ),
        row(
            "VXLAN for an unknown VNI",
            wrap_vni(0x77_77, &good_inner),
            Expect::Same(DropReason::UnknownVni),
        ),
        row(
            "VXLAN without the I flag",
            with_header(vxlan_header(0, VNI), &good_inner),
            Expect::Same(DropReason::MalformedVxlan),
        ),
        row(
            "VXLAN header cut to 4 bytes",
            with_header(vxlan_header(VXLAN_FLAG_VNI, VNI)[..4].to_vec(), &[]),
            Expect::Same(DropReason::MalformedVxlan),
        ),
        row(
            "inner Ethernet cut to 10 bytes",
            wrap(&good_inner[..10]),
            Expect::Same(DropReason::MalformedVxlan),
        ),
        row(
            "inner IPv4 cut to 10 bytes",
            wrap(&good_inner[..ETH_LEN + 10]),
            Expect::Same(DropReason::TruncatedIpv4),
        ),
        row(
            "inner IPv4 with IHL 4",
            wrap(&udp_to(TASK_IP).ipv4_ihl(4).build()),
            Expect::Same(DropReason::MalformedIpv4),
        ),
        row(
            "inner TCP header cut to 8 bytes",
            wrap(&tcp_to_task().truncate_l4(8).build()),
            Expect::Same(DropReason::TruncatedL4),
        ),
        row(
            "inner ARP",
            wrap(&Pkt::arp_request(REMOTE_IP, TASK_IP).build()),
            Expect::Same(DropReason::UnsupportedL3),
        ),
        row(
            "encrypted network's VXLAN in clear on the underlay",
            wrap_vni(
                SECRET_VNI,
                &Pkt::udp(REMOTE_IP, 1, SECRET_TASK_IP, 2).build(),
            ),
            Expect::Same(DropReason::ClearOnEncrypted),
        ),
    ]
}

fn hand_off_rows() -> Vec<Row> {
    let good = wrap(&udp_to(TASK_IP).build());
    let mut small_mtu = node();
    small_mtu = small_mtu.underlay_mtu(good.len() as u32 - ETH_LEN as u32 - 1);
    vec![
        row(
            "VXLAN for an address with no endpoint (TC drops it)",
            wrap(&udp_to(NOBODY_IP).build()),
            Expect::HandOff,
        ),
        row(
            "VXLAN for a task on another node (TC drops it)",
            wrap(&udp_to(REMOTE_IP).build()),
            Expect::HandOff,
        ),
        row_with(
            "reply of a translated flow (TC rewrites it)",
            good.clone(),
            (node(), reply_state(REPLY_REV_NAT)),
            Expect::HandOff,
        ),
        row_with(
            "flow with a mesh return path (TC keeps it)",
            good.clone(),
            (node(), reply_state(REPLY_RETURN_PATH)),
            Expect::HandOff,
        ),
        row(
            "ICMP in VXLAN (an error may need translating)",
            wrap(
                &Pkt::icmp_echo(REMOTE_IP, TASK_IP)
                    .macs(REMOTE_MAC, TASK_MAC)
                    .build(),
            ),
            Expect::HandOff,
        ),
        row(
            "inner non-first fragment",
            wrap(
                &Pkt::ipv4(REMOTE_IP, TASK_IP, 17)
                    .macs(REMOTE_MAC, TASK_MAC)
                    .payload(&[0xab; 32])
                    .fragment(1480, false)
                    .build(),
            ),
            Expect::HandOff,
        ),
        row_with(
            "frame longer than the underlay MTU (generic XDP's aggregated skb)",
            good.clone(),
            small_mtu,
            Expect::HandOff,
        ),
        row_with(
            "fast path switched off",
            good.clone(),
            node_without_fast_path(),
            Expect::HandOff,
        ),
        row(
            "UDP to this node on another port",
            outer(OTHER_NODE, 53, b"query").build(),
            Expect::HandOff,
        ),
        row(
            "TCP to this node",
            Pkt::tcp(CLIENT_IP, 40_000, THIS_NODE, 80).syn().build(),
            Expect::HandOff,
        ),
        row(
            "ARP",
            Pkt::arp_request(OTHER_NODE, THIS_NODE).build(),
            Expect::HandOff,
        ),
        row(
            "VXLAN to another underlay address",
            {
                let mut p = vxlan_header(VXLAN_FLAG_VNI, VNI);
                p.extend_from_slice(&udp_to(TASK_IP).build());
                Pkt::udp(OTHER_NODE, 51_234, STRANGER, VXLAN_PORT)
                    .payload(&p)
                    .build()
            },
            Expect::HandOff,
        ),
    ]
}

/// What TC's decapsulation makes of `vxlan` for the local task, built from
/// the inner frame: the task's addresses, then the inner IPv4 packet.
fn delivered(inner_ip_packet: &[u8]) -> Vec<u8> {
    let mut out = TASK_MAC.to_vec();
    out.extend_from_slice(&TASK_HOST_MAC);
    out.extend_from_slice(&[0x08, 0x00]);
    out.extend_from_slice(inner_ip_packet);
    out
}

/// The inner IPv4 packet of a VXLAN frame without outer IPv4 options.
fn inner_ip_of(frame: &[u8]) -> &[u8] {
    let ihl = usize::from(frame[ETH_LEN] & 0x0f) * 4;
    &frame[ETH_LEN + ihl + 8 + 8 + ETH_LEN..]
}

fn without(counters: &[(Stat, u64, u64)], stat: Stat) -> Vec<(Stat, u64, u64)> {
    counters
        .iter()
        .copied()
        .filter(|(s, _, _)| *s != stat)
        .collect()
}

/// Check one row; the failure text if it does not hold.
fn check(row: &Row, xdp: &RawRun, tc: &RawRun) -> Result<(), String> {
    match row.expect {
        Expect::Fast => {
            if (xdp.code, tc.code) != (XDP_REDIRECT, TC_ACT_REDIRECT) {
                return Err(format!(
                    "verdicts xdp {} tc {}: both should redirect",
                    xdp.code, tc.code
                ));
            }
            if xdp.output != tc.output {
                return Err(format!(
                    "outputs differ:\n{}",
                    support::harness::hex_diff(&tc.output, &xdp.output)
                ));
            }
            let decap = tc.counters.iter().find(|(s, _, _)| *s == Stat::Decap);
            let xdp_decap = xdp.counters.iter().find(|(s, _, _)| *s == Stat::XdpDecap);
            if decap.map(|d| (d.1, d.2)) != xdp_decap.map(|d| (d.1, d.2)) {
                return Err(format!(
                    "xdp-decap {xdp_decap:?} is not TC's decap {decap:?}"
                ));
            }
            if without(&xdp.counters, Stat::XdpDecap) != tc.counters {
                return Err(format!(
                    "counters: xdp {:?}, tc {:?}",
                    xdp.counters, tc.counters
                ));
            }
            Ok(())
        }
        Expect::Same(reason) => {
            if (xdp.code, tc.code) != (XDP_DROP, TC_ACT_SHOT) {
                return Err(format!(
                    "verdicts xdp {} tc {}: both should drop",
                    xdp.code, tc.code
                ));
            }
            let dropped = xdp
                .counters
                .iter()
                .any(|(s, n, _)| *s == Stat::Drop(reason) && *n == 1);
            if !dropped || xdp.counters != tc.counters {
                return Err(format!(
                    "counters: xdp {:?}, tc {:?} (want {reason:?})",
                    xdp.counters, tc.counters
                ));
            }
            Ok(())
        }
        Expect::HandOff => {
            if xdp.code != XDP_PASS || xdp.output != row.input {
                return Err(format!(
                    "xdp verdict {}: should pass the frame unchanged",
                    xdp.code
                ));
            }
            let taken = [Stat::Decap, Stat::XdpDecap];
            if xdp
                .counters
                .iter()
                .any(|(s, _, _)| taken.contains(s) || matches!(s, Stat::Drop(_)))
            {
                return Err(format!("xdp counted more than a pass: {:?}", xdp.counters));
            }
            Ok(())
        }
    }
}

#[test]
fn xdp_fast_path_matches_tc() {
    let mut harness = Harness::load();
    let rows: Vec<Row> = [fast_rows(), drop_rows(), hand_off_rows()]
        .into_iter()
        .flatten()
        .collect();
    let mut failures = Vec::new();
    for row in &rows {
        let xdp = harness.run_raw(row.maps.as_ref(), Program::UnderlayXdp, &row.input);
        let tc = harness.run_raw(row.maps.as_ref(), Program::UnderlayTc, &row.input);
        let result = match (xdp, tc) {
            (Ok(xdp), Ok(tc)) => check(row, &xdp, &tc),
            (xdp, tc) => Err(format!("run failed: xdp {:?} tc {:?}", xdp.err(), tc.err())),
        };
        if let Err(e) = result {
            failures.push(format!("{}: {e}", row.what));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// The fast path's output is right on its own terms, not only equal to
/// TC's: the task's MACs in front of the untouched inner packet.
#[test]
fn xdp_fast_path_delivers_the_inner_packet_to_the_task() {
    let mut harness = Harness::load();
    for inner in [udp_to(TASK_IP).build(), tcp_to_task().build()] {
        let input = wrap(&inner);
        let run = harness
            .run_raw(&node(), Program::UnderlayXdp, &input)
            .unwrap();
        assert_eq!(run.code, XDP_REDIRECT);
        assert_eq!(run.output, delivered(inner_ip_of(&input)));
        assert!(
            run.counters
                .contains(&(Stat::XdpDecap, 1, run.output.len() as u64))
        );
    }
}
