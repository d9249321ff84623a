//! Draining and removed backends, and conntrack timeouts by TCP state.
//!
//! The drain service's table holds only backend 41; backend 42 drains
//! (present in the backends map, absent from the table). A flow in
//! conntrack pointing at 42 that keeps going to 42 was honoured; one that
//! lands on 41 with `new-flow` counted was re-picked.

use super::*;

const REMOVED_ID: u32 = 999;
const SECOND: u64 = 1_000_000_000;

fn setup(dev: Devices) -> (OverlayMaps, LbMaps) {
    (
        node(dev, &[BE_ACTIVE, BE_DRAINING]),
        drain_service(LbMaps::new()),
    )
}

fn entry(id: u32, ip: Ipv4Addr, state: u8, fins: u8, last_seen_ns: u64) -> CtEntry {
    CtEntry {
        last_seen_ns,
        backend_id: id,
        backend_ip: ip.octets(),
        backend_port: TARGET_WEB.to_be_bytes(),
        state,
        fins,
        vni: VNI,
    }
}

fn segment(proto: u8, sport: u16, (dst, dport): (Ipv4Addr, u16), syn: bool) -> Pkt {
    match proto {
        PROTO_TCP if syn => Pkt::tcp(CLIENT, sport, dst, dport).syn(),
        PROTO_TCP => Pkt::tcp(CLIENT, sport, dst, dport).seq(2_000).ack(3_000),
        _ => Pkt::udp(CLIENT, sport, dst, dport).payload(b"ping"),
    }
}

/// The client's segment of flow `sport` to the drain VIP, expected to land
/// on `backend`:8080 (`new`: as a new flow).
fn to_drain_vip(
    what: &'static str,
    dev: Devices,
    (proto, sport, syn): (u8, u16, bool),
    backend: Ipv4Addr,
    new: bool,
) -> Fixture {
    let port = if proto == PROTO_TCP { WEB } else { DNS };
    let input = from_client(segment(proto, sport, (DRAIN_VIP, port), syn));
    let output = to_fake(segment(proto, sport, (backend, TARGET_WEB), syn), backend);
    dnat(what, input, output, new).on_ifindex(dev.client)
}

#[test]
fn draining_and_removed_backends() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let now = monotonic_now_ns();
    let kept = flow_key(VNI, CLIENT, 44_000, DRAIN_VIP, WEB, PROTO_TCP);
    let removed = flow_key(VNI, CLIENT, 44_100, DRAIN_VIP, WEB, PROTO_TCP);
    let reused = flow_key(VNI, CLIENT, 44_200, DRAIN_VIP, WEB, PROTO_TCP);
    let (overlay, lb) = setup(dev);
    let lb = lb
        .flow(
            kept,
            entry(ID_DRAINING, BE_DRAINING, CT_ESTABLISHED, 0, now),
        )
        .flow(
            removed,
            entry(
                REMOVED_ID,
                Ipv4Addr::new(10, 1, 0, 99),
                CT_ESTABLISHED,
                0,
                now,
            ),
        )
        .flow(
            reused,
            entry(
                ID_DRAINING,
                BE_DRAINING,
                CT_CLOSING,
                CT_FIN_CLIENT | CT_FIN_BACKEND,
                now,
            ),
        );
    let mut sc = Scenario::start(&mut harness, "drain", (overlay, lb));

    sc.run(
        Program::TaskTc,
        &to_drain_vip(
            "established flow to a draining backend: keeps going there, no new flow",
            dev,
            (PROTO_TCP, 44_000, false),
            BE_DRAINING,
            false,
        ),
    );
    assert_eq!(sc.ct(&kept).backend_id, ID_DRAINING);

    for sport in 44_001..44_033 {
        sc.run(
            Program::TaskTc,
            &to_drain_vip(
                "new flow while a backend drains: never to the draining one",
                dev,
                (PROTO_TCP, sport, true),
                BE_ACTIVE,
                true,
            ),
        );
    }

    sc.run(
        Program::TaskTc,
        &to_drain_vip(
            "a SYN reusing the ports of a finished flow to a draining backend: a new flow",
            dev,
            (PROTO_TCP, 44_200, true),
            BE_ACTIVE,
            true,
        ),
    );
    assert_eq!(sc.ct(&reused).backend_id, ID_ACTIVE);
    assert_eq!(sc.ct(&reused).state, CT_SYN_SENT);

    let since = monotonic_now_ns();
    sc.run(
        Program::TaskTc,
        &to_drain_vip(
            "a flow whose backend was removed from the backends map: re-picked",
            dev,
            (PROTO_TCP, 44_100, false),
            BE_ACTIVE,
            true,
        ),
    );
    assert_ct(
        &sc.ct(&removed),
        (ID_ACTIVE, BE_ACTIVE, TARGET_WEB),
        CT_ESTABLISHED,
        0,
        since,
    );
}

const SHORT: LbConfig = LbConfig {
    tcp_syn_s: 5,
    tcp_established_s: 5,
    tcp_half_closed_s: 5,
    tcp_closing_s: 5,
    udp_s: 5,
    _pad: 0,
};

/// The IPVS limits Swarm users hit (moby#31208, moby#29655) are below ours.
const _: () = assert!(DEFAULT_TCP_ESTABLISHED_S > 900 && DEFAULT_TCP_HALF_CLOSED_S > 60);

struct Timeout {
    what: &'static str,
    config: Option<LbConfig>,
    proto: u8,
    state: u8,
    fins: u8,
    age_s: u64,
    kept: bool,
}

const fn case(
    what: &'static str,
    config: Option<LbConfig>,
    (proto, state, fins): (u8, u8, u8),
    age_s: u64,
    kept: bool,
) -> Timeout {
    Timeout {
        what,
        config,
        proto,
        state,
        fins,
        age_s,
        kept,
    }
}

const EST: (u8, u8, u8) = (PROTO_TCP, CT_ESTABLISHED, 0);
const HALF: (u8, u8, u8) = (PROTO_TCP, CT_HALF_CLOSED, CT_FIN_CLIENT);
const SYN: (u8, u8, u8) = (PROTO_TCP, CT_SYN_SENT, 0);
const CLOSING: (u8, u8, u8) = (PROTO_TCP, CT_CLOSING, CT_FIN_CLIENT | CT_FIN_BACKEND);
const UDP: (u8, u8, u8) = (PROTO_UDP, CT_DATAGRAM, 0);

/// The oldest entry a case back-dates, in seconds. Entries are stamped on
/// `bpf_ktime_get_ns`'s clock (CLOCK_MONOTONIC, which starts near zero at
/// boot), so no age may exceed how long the machine has been up: 12 s is
/// less than any machine takes to boot and build this test.
const OLDEST_AGE_S: u64 = 12;

const TIMEOUTS: [Timeout; 14] = [
    case(
        "short config: established idle 10 s > 5 s: re-picked",
        Some(SHORT),
        EST,
        10,
        false,
    ),
    case(
        "short config: established idle 1 s < 5 s: kept",
        Some(SHORT),
        EST,
        1,
        true,
    ),
    case(
        "short config: half-closed idle 10 s: re-picked",
        Some(SHORT),
        HALF,
        10,
        false,
    ),
    case(
        "short config: half-closed idle 1 s: kept",
        Some(SHORT),
        HALF,
        1,
        true,
    ),
    case(
        "short config: SYN sent 10 s ago: re-picked",
        Some(SHORT),
        SYN,
        10,
        false,
    ),
    case(
        "short config: closing for 10 s: re-picked",
        Some(SHORT),
        CLOSING,
        10,
        false,
    ),
    case(
        "short config: UDP idle 10 s: re-picked",
        Some(SHORT),
        UDP,
        10,
        false,
    ),
    case(
        "short config: UDP idle 1 s: kept",
        Some(SHORT),
        UDP,
        1,
        true,
    ),
    // Without a config entry the program uses the defaults (6 h, 6 h, 60 s,
    // 10 s, 300 s); hours-long ages are checked against the same
    // `LbConfig::expired` with a synthetic clock in shoal-common's unit tests.
    case("defaults: established idle 12 s: kept", None, EST, 12, true),
    case(
        "defaults: half-closed idle 12 s: kept",
        None,
        HALF,
        12,
        true,
    ),
    case(
        "defaults: SYN sent 12 s ago (60 s): kept",
        None,
        SYN,
        12,
        true,
    ),
    case(
        "defaults: closing for 12 s (10 s): re-picked",
        None,
        CLOSING,
        12,
        false,
    ),
    case("defaults: UDP idle 12 s (300 s): kept", None, UDP, 12, true),
    case(
        "config zero fields mean defaults: established 12 s kept",
        Some(LbConfig {
            tcp_syn_s: 5,
            tcp_established_s: 0,
            tcp_half_closed_s: 5,
            tcp_closing_s: 5,
            udp_s: 5,
            _pad: 0,
        }),
        EST,
        12,
        true,
    ),
];

#[test]
fn conntrack_timeouts_follow_the_state() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    for t in &TIMEOUTS {
        assert!(
            t.age_s <= OLDEST_AGE_S,
            "{}: older than OLDEST_AGE_S",
            t.what
        );
        let now = monotonic_now_ns();
        let last_seen = now.checked_sub(t.age_s * SECOND).unwrap_or_else(|| {
            panic!("CLOCK_MONOTONIC reads {now} ns: under {OLDEST_AGE_S} s since boot")
        });
        let sport = 45_000;
        let key = flow_key(
            VNI,
            CLIENT,
            sport,
            DRAIN_VIP,
            if t.proto == PROTO_TCP { WEB } else { DNS },
            t.proto,
        );
        let (overlay, mut lb) = setup(dev);
        lb = lb.flow(
            key,
            entry(ID_DRAINING, BE_DRAINING, t.state, t.fins, last_seen),
        );
        if let Some(config) = t.config {
            lb = lb.config(config);
        }
        let mut sc = Scenario::start(&mut harness, t.what, (overlay, lb));
        let syn = t.state == CT_SYN_SENT;
        let (backend, id) = if t.kept {
            (BE_DRAINING, ID_DRAINING)
        } else {
            (BE_ACTIVE, ID_ACTIVE)
        };
        let since = monotonic_now_ns();
        sc.run(
            Program::TaskTc,
            &to_drain_vip(t.what, dev, (t.proto, sport, syn), backend, !t.kept),
        );
        let (state, fins) = match (t.kept, t.proto) {
            (true, _) => (t.state, t.fins),
            (false, PROTO_UDP) => (CT_DATAGRAM, 0),
            (false, _) if syn => (CT_SYN_SENT, 0),
            (false, _) => (CT_ESTABLISHED, 0),
        };
        let ct = sc.ct(&key);
        assert_eq!(
            (ct.backend_id, ct.state, ct.fins),
            (id, state, fins),
            "{}: {ct:?}",
            t.what
        );
        assert!(ct.last_seen_ns >= since, "{}: refreshed", t.what);
    }
}
