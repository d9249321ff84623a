//! Packet fixtures for `shoal dp monitor`'s events: a dropped packet puts
//! exactly one event (reason, program, addresses, ports) in the ring buffer
//! while a listener asked for drops, none otherwise; trace events follow
//! the address filter; an expired lease switches the programs' events off.
//! The counters must be the same either way: every run goes through the
//! harness, which checks the exact counter deltas.
//! Needs root: it loads the programs and runs them with `BPF_PROG_TEST_RUN`.

mod support;

use std::net::Ipv4Addr;

use shoal_common::{
    DropReason,
    monitor::MonitorConfig,
    overlay::{TaskIface, VXLAN_PORT},
};
use shoal_dataplane::monitor::{Event, Monitor, MonitorFilter};
use support::{Fixture, Harness, OverlayMaps, Pkt, PrivateNetns, Program, UNDERLAY_PROGRAMS};

const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
const THIS_NODE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const STRANGER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);
const TASK_A: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const TASK_B: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 3);
const VNI: u32 = 0x12_34_56;

const DROPS: MonitorFilter = MonitorFilter {
    drops: true,
    trace: false,
    from: None,
    to: None,
};

/// A UDP datagram whose length field (4) is shorter than its own header.
fn malformed_udp() -> Fixture {
    Fixture::drop(
        "UDP length 4: malformed-l4",
        Pkt::udp(CLIENT, 40_000, SERVER, 53)
            .payload(b"query")
            .udp_len(4)
            .build(),
        DropReason::MalformedL4,
    )
}

/// Every event waiting in the ring.
fn drain(monitor: &mut Monitor) -> Vec<Event> {
    std::iter::from_fn(|| monitor.next_event()).collect()
}

/// Run `fixture` on `prog`; the harness checks verdict and exact counters.
fn run(h: &mut Harness, fixture: &Fixture, prog: Program) {
    if let Err(report) = h.run(fixture, prog) {
        panic!("{report}");
    }
}

#[test]
fn a_drop_is_one_event_with_reason_addresses_and_ports_while_listening() {
    let mut h = Harness::load();
    let mut monitor = Monitor::start(h.pins(), DROPS).unwrap();
    let fixture = malformed_udp();
    for prog in UNDERLAY_PROGRAMS {
        run(&mut h, &fixture, prog);
        let events = drain(&mut monitor);
        assert_eq!(events.len(), 1, "{prog:?}: one drop, one event: {events:?}");
        let e = &events[0];
        assert_eq!((e.kind, e.verdict), ("drop", "drop"), "{e:?}");
        assert_eq!(e.reason, Some(DropReason::MalformedL4.name()), "{e:?}");
        let want_program = match prog {
            Program::UnderlayXdp => "underlay-xdp",
            _ => "underlay-tc",
        };
        assert_eq!(e.program, want_program);
        assert_eq!(e.len as usize, fixture.input.len());
        let flow = e.flow.as_ref().expect("the event carries the IPv4 header");
        assert_eq!(flow.proto, "udp");
        assert_eq!((flow.src, flow.sport), (CLIENT, 40_000), "{flow:?}");
        assert_eq!((flow.dst, flow.dport), (SERVER, 53), "{flow:?}");
        assert_eq!((e.vni, &e.inner), (None, &None));
    }
}

#[test]
fn no_event_while_nobody_listens_and_none_for_passed_packets_without_trace() {
    let mut h = Harness::load();
    // Opened with nothing asked for: the ring is readable, the flags off.
    let mut monitor = Monitor::start(h.pins(), MonitorFilter::default()).unwrap();
    assert_eq!(monitor.config().unwrap().flags, 0);
    for prog in UNDERLAY_PROGRAMS {
        run(&mut h, &malformed_udp(), prog);
    }
    assert_eq!(drain(&mut monitor), []);

    // Drops only: a passed packet is no event.
    monitor.write(DROPS.config(u64::MAX)).unwrap();
    let pass = Fixture::pass("UDP: passed", Pkt::udp(CLIENT, 1, SERVER, 53).build());
    run(&mut h, &pass, Program::UnderlayXdp);
    assert_eq!(drain(&mut monitor), []);

    // Switched off again (what Ctrl-C does): drops are counted, not sent.
    monitor.stop().unwrap();
    run(&mut h, &malformed_udp(), Program::UnderlayXdp);
    assert_eq!(drain(&mut monitor), []);
}

#[test]
fn an_expired_lease_sends_nothing_and_the_program_clears_the_flags() {
    let mut h = Harness::load();
    let mut monitor = Monitor::start(h.pins(), DROPS).unwrap();
    // A listener killed long ago: its lease ended at boot + 1 ns.
    monitor.write(DROPS.config(1)).unwrap();
    run(&mut h, &malformed_udp(), Program::UnderlayXdp);
    assert_eq!(drain(&mut monitor), []);
    assert_eq!(
        monitor.config().unwrap(),
        MonitorConfig {
            flags: 0,
            ..DROPS.config(1)
        }
    );

    monitor.renew().unwrap();
    run(&mut h, &malformed_udp(), Program::UnderlayXdp);
    assert_eq!(drain(&mut monitor).len(), 1, "a renewed lease sends again");
}

#[test]
fn trace_events_follow_the_from_and_to_filter() {
    let mut h = Harness::load();
    let filter = MonitorFilter {
        drops: false,
        trace: true,
        from: Some((CLIENT, 0)),
        to: Some((SERVER, 53)),
    };
    let mut monitor = Monitor::start(h.pins(), filter).unwrap();
    let matching = Fixture::pass("UDP to :53", Pkt::udp(CLIENT, 5, SERVER, 53).build());
    let other_port = Fixture::pass("UDP to :54", Pkt::udp(CLIENT, 5, SERVER, 54).build());
    let other_src = Fixture::pass("from elsewhere", Pkt::udp(SERVER, 5, SERVER, 53).build());
    for prog in UNDERLAY_PROGRAMS {
        run(&mut h, &matching, prog);
        run(&mut h, &other_port, prog);
        run(&mut h, &other_src, prog);
        // Trace only: a drop is no event.
        run(&mut h, &malformed_udp(), prog);
        let events = drain(&mut monitor);
        assert_eq!(
            events.len(),
            1,
            "{prog:?}: only the matching packet: {events:?}"
        );
        let e = &events[0];
        assert_eq!((e.kind, e.verdict, e.reason), ("trace", "pass", None));
        let flow = e.flow.as_ref().unwrap();
        assert_eq!(
            (flow.src, flow.sport, flow.dst, flow.dport),
            (CLIENT, 5, SERVER, 53)
        );
    }
}

/// A VXLAN frame from `STRANGER` carrying task A → task B TCP.
fn vxlan_from_stranger() -> Vec<u8> {
    let inner = Pkt::tcp(TASK_A, 1234, TASK_B, 80).syn().build();
    let mut payload = vec![0x08, 0, 0, 0];
    payload.extend_from_slice(&(VNI << 8).to_be_bytes());
    payload.extend_from_slice(&inner);
    Pkt::udp(STRANGER, 50_000, THIS_NODE, VXLAN_PORT)
        .payload(&payload)
        .build()
}

#[test]
fn a_dropped_vxlan_frame_shows_its_vni_and_inner_flow_and_matches_an_inner_filter() {
    let mut h = Harness::load();
    let filter = MonitorFilter {
        to: Some((TASK_B, 80)),
        ..DROPS
    };
    let mut monitor = Monitor::start(h.pins(), filter).unwrap();
    let fixture = Fixture::drop(
        "VXLAN from an address that is no peer",
        vxlan_from_stranger(),
        DropReason::UnknownPeer,
    )
    .maps(OverlayMaps::new().node(7, THIS_NODE, VXLAN_PORT));
    run(&mut h, &fixture, Program::UnderlayTc);
    let events = drain(&mut monitor);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.reason, Some("unknown-peer"));
    assert_eq!(e.vni, Some(VNI));
    let outer = e.flow.as_ref().unwrap();
    assert_eq!(
        (outer.src, outer.dst, outer.dport),
        (STRANGER, THIS_NODE, VXLAN_PORT)
    );
    let inner = e.inner.as_ref().expect("the inner flow");
    assert_eq!(inner.proto, "tcp");
    assert_eq!(
        (inner.src, inner.sport, inner.dst, inner.dport),
        (TASK_A, 1234, TASK_B, 80)
    );
}

#[test]
fn every_program_names_itself_and_its_device_in_drop_events() {
    let mut h = Harness::load();
    let mut monitor = Monitor::start(h.pins(), DROPS).unwrap();
    let udp = || Pkt::udp(CLIENT, 40_000, SERVER, 53).payload(b"q").build();
    let cases = [
        (
            Program::TaskTc,
            "task-tc",
            Fixture::drop(
                "UDP on a device that is no task's",
                udp(),
                DropReason::NoTaskIface,
            ),
        ),
        (
            Program::WgTc,
            "wg-tc",
            Fixture::drop(
                "UDP on the WireGuard device before dp apply",
                udp(),
                DropReason::NoNodeConfig,
            ),
        ),
    ];
    for (prog, name, fixture) in cases {
        run(&mut h, &fixture, prog);
        let events = drain(&mut monitor);
        assert_eq!(events.len(), 1, "{prog:?}: {events:?}");
        let e = &events[0];
        assert_eq!(e.program, name);
        assert_eq!(e.reason, fixture_reason(&fixture));
        // A TC test run without a context runs on the loopback device.
        assert_eq!(e.ifindex, 1, "{e:?}");
        let flow = e.flow.as_ref().unwrap();
        assert_eq!((flow.src, flow.dst), (CLIENT, SERVER));
    }
}

/// The drop reason's name a drop fixture expects.
fn fixture_reason(fixture: &Fixture) -> Option<&'static str> {
    fixture.counters.iter().find_map(|(stat, _)| match stat {
        shoal_common::Stat::Drop(reason) => Some(reason.name()),
        _ => None,
    })
}

#[test]
fn a_task_packet_wrapped_in_vxlan_is_traced_as_redirect_with_its_inner_flow() {
    const REMOTE_NODE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const TASK_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x02];
    const HOST_MAC: [u8; 6] = [0x02, 0x5e, 0x00, 0x00, 0x00, 0x02];
    const REMOTE_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x03];
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let task = netns.add_veth("task-a").unwrap();
    let mut h = Harness::load();
    let filter = MonitorFilter {
        drops: false,
        trace: true,
        from: None,
        to: Some((TASK_B, 80)),
    };
    let mut monitor = Monitor::start(h.pins(), filter).unwrap();
    let iface = TaskIface {
        vni: VNI,
        ip: TASK_A.octets(),
        mac: TASK_MAC,
        host_mac: HOST_MAC,
    };
    let maps = OverlayMaps::new()
        .node(7, THIS_NODE, VXLAN_PORT)
        .network(VNI, Ipv4Addr::new(10, 1, 0, 0), 24)
        .task_iface(task, iface)
        .local_endpoint(VNI, TASK_A, TASK_MAC, task, HOST_MAC)
        .remote_endpoint(VNI, TASK_B, REMOTE_MAC, REMOTE_NODE);
    let to_b = |dport| {
        Pkt::tcp(TASK_A, 1234, TASK_B, dport)
            .macs(TASK_MAC, HOST_MAC)
            .syn()
            .build()
    };
    let ran = h
        .run_each(
            &maps,
            Program::TaskTc,
            Some(task),
            &[to_b(80), to_b(81)],
            |_, code, _, _| {
                // TC_ACT_REDIRECT: both were wrapped and sent.
                (code == 7).then_some(()).ok_or(format!("verdict {code}"))
            },
        )
        .unwrap();
    assert_eq!(ran, 2);
    let events = drain(&mut monitor);
    assert_eq!(events.len(), 1, "only the packet to :80: {events:?}");
    let e = &events[0];
    assert_eq!(
        (e.kind, e.verdict, e.program),
        ("trace", "redirect", "task-tc")
    );
    assert_eq!(e.ifindex, task);
    let outer = e.flow.as_ref().unwrap();
    assert_eq!(
        (outer.src, outer.dst, outer.dport),
        (THIS_NODE, REMOTE_NODE, VXLAN_PORT)
    );
    assert_eq!(e.vni, Some(VNI));
    let inner = e.inner.as_ref().unwrap();
    assert_eq!(
        (inner.src, inner.sport, inner.dst, inner.dport),
        (TASK_A, 1234, TASK_B, 80)
    );
}
