use super::*;

fn raw_drop() -> MonitorEvent {
    MonitorEvent {
        kind: EVENT_DROP,
        program: MonitorProgram::UnderlayXdp as u8,
        verdict: VERDICT_DROP,
        reason: DropReason::MalformedL4 as u32,
        ifindex: 2,
        len: 62,
        outer: FlowAddrs {
            src: [198, 18, 0, 1],
            dst: [198, 18, 0, 2],
            sport: 40000,
            dport: 9,
            proto: 17,
            _pad: [0; 3],
        },
        ..MonitorEvent::default()
    }
}

fn bytes_of(raw: &MonitorEvent) -> Vec<u8> {
    // SAFETY: viewing a plain repr(C) value as its bytes.
    unsafe {
        std::slice::from_raw_parts(
            std::ptr::from_ref(raw).cast::<u8>(),
            size_of::<MonitorEvent>(),
        )
    }
    .to_vec()
}

#[test]
fn a_drop_decodes_with_the_reason_name_dp_stats_shows() {
    let bytes = bytes_of(&raw_drop());
    let event = Event::from_raw(&decode(&bytes).unwrap());
    assert_eq!(event.kind, "drop");
    assert_eq!(event.reason, Some(DropReason::MalformedL4.name()));
    assert_eq!(event.program, "underlay-xdp");
    assert_eq!(event.verdict, "drop");
    let flow = event.flow.unwrap();
    assert_eq!(flow.proto, "udp");
    assert_eq!(
        (flow.src, flow.sport),
        (Ipv4Addr::new(198, 18, 0, 1), 40000)
    );
    assert_eq!((flow.dst, flow.dport), (Ipv4Addr::new(198, 18, 0, 2), 9));
    assert_eq!((event.vni, event.inner), (None, None));
}

#[test]
fn a_short_record_is_not_an_event_and_a_headerless_drop_has_no_flow() {
    let bytes = bytes_of(&raw_drop());
    assert!(decode(&bytes[..bytes.len() - 1]).is_none());
    let raw = MonitorEvent {
        outer: FlowAddrs::default(),
        reason: DropReason::TruncatedEthernet as u32,
        ..raw_drop()
    };
    let event = Event::from_raw(&raw);
    assert_eq!(event.flow, None);
    assert_eq!(event.reason, Some("truncated-ethernet"));
}

#[test]
fn a_vxlan_trace_carries_its_vni_and_inner_flow() {
    let raw = MonitorEvent {
        kind: shoal_common::monitor::EVENT_TRACE,
        verdict: VERDICT_REDIRECT,
        reason: 0,
        vni: 4097,
        has_inner: 1,
        inner: FlowAddrs {
            src: [10, 0, 1, 2],
            dst: [10, 0, 1, 3],
            sport: 1234,
            dport: 80,
            proto: 6,
            _pad: [0; 3],
        },
        ..raw_drop()
    };
    let event = Event::from_raw(&raw);
    assert_eq!(
        (event.kind, event.reason, event.verdict),
        ("trace", None, "redirect")
    );
    assert_eq!(event.vni, Some(4097));
    assert_eq!(event.inner.unwrap().proto, "tcp");
}

#[test]
fn the_filter_becomes_flags_addresses_and_host_order_ports() {
    let filter = MonitorFilter {
        drops: true,
        trace: true,
        from: Some((Ipv4Addr::new(10, 0, 1, 2), 0)),
        to: Some((Ipv4Addr::new(10, 0, 1, 3), 80)),
    };
    let cfg = filter.config(77);
    assert_eq!(cfg.flags, MONITOR_DROPS | MONITOR_TRACE);
    assert_eq!(cfg.lease_until_ns, 77);
    assert_eq!((cfg.from_addr, cfg.from_port), ([10, 0, 1, 2], 0));
    assert_eq!((cfg.to_addr, cfg.to_port), ([10, 0, 1, 3], 80));
    let off = MonitorFilter::default().config(77);
    assert_eq!(off.flags, 0);
}
