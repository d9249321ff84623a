use super::*;
use crate::lb::state::{Protocol, PublishMode};

fn parse(json: &str) -> Result<DesiredState, String> {
    let s: DesiredState = serde_json::from_str(json).map_err(|e| e.to_string())?;
    s.validate().map_err(|e| e.to_string())?;
    Ok(s)
}

/// A state with two networks and one local and one remote task on `front`.
fn with(services: &str, published: &str) -> String {
    format!(
        r#"{{"underlay": {{"iface": "eth0"}},
            "networks": [{{"name": "front", "vni": 4097, "subnet": "10.10.0.0/24"}},
                         {{"name": "back", "vni": 4098, "subnet": "10.20.0.0/24"}}],
            "endpoints": [{{"id": "t1", "netns": "t1", "network": "front", "ip": "10.10.0.5"}}],
            "remote_endpoints": [{{"network": "front", "ip": "10.10.0.6", "node": "198.18.0.12"}}],
            "services": [{services}], "published": [{published}]}}"#
    )
}

const WEB: &str = r#"{"name": "web", "vip": "10.10.0.100",
    "ports": [{"port": 80, "target": 8080, "protocol": "tcp"}, {"port": 53, "protocol": "udp"}],
    "backends": [{"ip": "10.10.0.5", "network": "front"},
                 {"ip": "10.10.0.6", "network": "front", "draining": true}]}"#;

#[test]
fn a_good_state_parses_with_defaults() {
    let s = parse(&with(
        WEB,
        r#"{"port": 8080, "service": "web", "target": 80},
           {"port": 5353, "protocol": "udp", "service": "web", "target": 53, "mode": "host"}"#,
    ))
    .unwrap();
    let web = &s.services[0];
    assert_eq!(web.ports[0].target_port(), 8080);
    assert_eq!(web.ports[1].target_port(), 53);
    assert_eq!(web.ports[1].protocol, Protocol::Udp);
    assert!(!web.backends[0].draining && web.backends[1].draining);
    assert_eq!(s.published[0].protocol, Protocol::Tcp);
    assert_eq!(s.published[0].mode, PublishMode::Ingress);
    assert_eq!(s.published[1].mode, PublishMode::Host);
    assert!(s.conntrack.is_default());
}

#[test]
fn states_without_services_keep_their_shape() {
    let json = r#"{"underlay": {"iface": "eth0"}}"#;
    let s = parse(json).unwrap();
    assert!(s.services.is_empty() && s.published.is_empty());
    let out = serde_json::to_value(&s).unwrap();
    assert!(out.get("services").is_none() && out.get("conntrack").is_none());
}

#[test]
fn conntrack_timeouts_are_optional() {
    let s = parse(r#"{"underlay": {"iface": "eth0"}, "conntrack": {"tcp_established_s": 86400}}"#)
        .unwrap();
    let cfg = s.conntrack.config();
    assert_eq!(cfg.tcp_established_s, 86400);
    assert_eq!(
        cfg.timeout_s(shoal_common::lb::CT_SYN_SENT),
        60,
        "unset: default"
    );
}

#[test]
fn bad_services_are_refused_with_the_reason() {
    let svc = |vip: &str, ports: &str, backends: &str| {
        with(
            &format!(
                r#"{{"name": "web", "vip": "{vip}", "ports": [{ports}], "backends": [{backends}]}}"#
            ),
            "",
        )
    };
    let p80 = r#"{"port": 80}"#;
    let b5 = r#"{"ip": "10.10.0.5", "network": "front"}"#;
    let cases = [
        (
            with(r#"{"name": "", "vip": "10.10.0.100"}"#, ""),
            "service with VIP 10.10.0.100: empty name",
        ),
        (
            with(
                r#"{"name": "a", "vip": "10.10.0.100"}, {"name": "a", "vip": "10.10.0.101"}"#,
                "",
            ),
            "duplicate service a",
        ),
        (
            svc("10.30.0.1", p80, b5),
            "service web: VIP 10.30.0.1 is not a usable host address of any network",
        ),
        (
            svc("10.10.0.255", p80, b5),
            "not a usable host address of any network",
        ),
        (
            svc("10.10.0.1", p80, b5),
            "not a usable host address of any network",
        ),
        (
            svc("10.10.0.5", p80, b5),
            "service web: VIP 10.10.0.5 is already a task's address on front",
        ),
        (
            with(
                r#"{"name": "web", "vip": "10.10.0.100", "network": "back"}"#,
                "",
            ),
            r#"service web: VIP 10.10.0.100 is not a usable host address of network "back""#,
        ),
        (
            with(
                r#"{"name": "web", "vip": "10.10.0.100", "network": "nope"}"#,
                "",
            ),
            r#"not a usable host address of network "nope""#,
        ),
        (
            svc("10.10.0.6", p80, ""),
            "VIP 10.10.0.6 is already a task's address on front",
        ),
        (
            // Port 0 means every port, with the flow's own port on the
            // backends: a target makes no sense there.
            svc("10.10.0.100", r#"{"port": 0, "target": 80}"#, b5),
            "service web: port 0 is not a port (use 1-65535)",
        ),
        (
            svc("10.10.0.100", r#"{"port": 80, "target": 0}"#, b5),
            "service web: target port 0 is not a port",
        ),
        (
            svc("10.10.0.100", r#"{"port": 70000}"#, b5),
            "invalid value: integer `70000`, expected u16",
        ),
        (
            svc("10.10.0.100", r#"{"port": 80, "protocol": "sctp"}"#, b5),
            "unknown variant `sctp`, expected `tcp` or `udp`",
        ),
        (
            svc("10.10.0.100", r#"{"port": 80, "weight": 2}"#, b5),
            "unknown field `weight`",
        ),
        (
            svc(
                "10.10.0.100",
                r#"{"port": 80}, {"port": 80, "target": 81}"#,
                b5,
            ),
            "duplicate service address 10.10.0.100:80/tcp",
        ),
        (
            with(
                r#"{"name": "a", "vip": "10.10.0.100", "ports": [{"port": 80}]},
                   {"name": "b", "vip": "10.10.0.100", "ports": [{"port": 80}]}"#,
                "",
            ),
            "duplicate service address 10.10.0.100:80/tcp",
        ),
        (
            svc(
                "10.10.0.100",
                p80,
                r#"{"ip": "10.10.0.7", "network": "nope"}"#,
            ),
            "service web: backend 10.10.0.7: no network named \"nope\"",
        ),
        (
            svc(
                "10.10.0.100",
                p80,
                r#"{"ip": "10.10.1.7", "network": "front"}"#,
            ),
            "service web: backend 10.10.1.7 is not a usable host address of front (10.10.0.0/24)",
        ),
        (
            svc(
                "10.10.0.100",
                p80,
                r#"{"ip": "10.20.0.7", "network": "back"}"#,
            ),
            "service web: backend 10.20.0.7 is on back but the VIP 10.10.0.100 is on front",
        ),
        (
            svc("10.10.0.100", p80, &format!("{b5}, {b5}")),
            "duplicate backend web/10.10.0.5",
        ),
        (
            svc(
                "10.10.0.100",
                p80,
                r#"{"ip": "10.10.0.5", "network": "front", "weight": 1}"#,
            ),
            "unknown field `weight`",
        ),
    ];
    check(&cases);
    // A VIP's every-port entry.
    parse(&svc("10.10.0.100", r#"{"port": 0}"#, b5)).unwrap();
}

#[test]
fn bad_published_ports_are_refused_with_the_reason() {
    let publish = |p: &str| with(WEB, p);
    let cases = [
        (
            publish(r#"{"port": 8080, "service": "api", "target": 80}"#),
            "published port 8080/tcp: no service named \"api\"",
        ),
        (
            publish(r#"{"port": 8080, "service": "web", "target": 81}"#),
            "published port 8080/tcp: service web has no tcp port 81",
        ),
        (
            publish(r#"{"port": 8080, "protocol": "udp", "service": "web", "target": 80}"#),
            "published port 8080/udp: service web has no udp port 80",
        ),
        (
            publish(r#"{"port": 0, "service": "web", "target": 80}"#),
            "published port 0/tcp: port 0 is not a port",
        ),
        (
            publish(r#"{"port": 8080, "service": "web", "target": 0}"#),
            "published port 8080/tcp: target 0 is not a port",
        ),
        (
            publish(
                r#"{"port": 8080, "service": "web", "target": 80}, {"port": 8080, "service": "web", "target": 80, "mode": "host"}"#,
            ),
            "duplicate published port 8080/tcp",
        ),
        (
            publish(r#"{"port": 4789, "protocol": "udp", "service": "web", "target": 53}"#),
            "published port 4789/udp is the VXLAN data-path port",
        ),
        (
            publish(r#"{"port": 8080, "service": "web", "target": 80, "mode": "global"}"#),
            "unknown variant `global`, expected `ingress` or `host`",
        ),
        (
            with(WEB, "").replace(r#""published": []"#, r#""conntrack": {"tcp_fin_s": 1}"#),
            "unknown field `tcp_fin_s`",
        ),
    ];
    check(&cases);
    // The same port on the other protocol is a different published port.
    parse(&publish(
        r#"{"port": 53, "service": "web", "target": 80}, {"port": 53, "protocol": "udp", "service": "web", "target": 53}"#,
    ))
    .unwrap();
}

fn check(cases: &[(String, &str)]) {
    for (json, want) in cases {
        let err = parse(json).unwrap_err();
        assert!(
            err.contains(want),
            "{json}\n  gave {err:?}\n  wanted {want:?}"
        );
    }
}

#[test]
fn a_vip_on_networks_sharing_a_subnet_names_its_network() {
    let state = |services: &str| {
        format!(
            r#"{{"underlay": {{"iface": "eth0"}},
                "networks": [{{"name": "a", "vni": 11, "subnet": "10.10.0.0/24"}},
                             {{"name": "b", "vni": 12, "subnet": "10.10.0.0/24"}}],
                "services": [{services}]}}"#
        )
    };
    let on = |name: &str, net: &str| {
        format!(
            r#"{{"name": "{name}", "vip": "10.10.0.100", "network": "{net}", "ports": [{{"port": 80}}]}}"#
        )
    };
    check(&[
        (
            state(r#"{"name": "web", "vip": "10.10.0.100"}"#),
            "service web: VIP 10.10.0.100 is in the subnet of a and b; name its network",
        ),
        (
            state(&format!("{}, {}", on("web", "a"), on("api", "a"))),
            "duplicate service address 10.10.0.100:80/tcp on a",
        ),
    ]);
    parse(&state(&format!(
        "{}, {}",
        on("web@a", "a"),
        on("web@b", "b")
    )))
    .expect("the same VIP and port on two networks");
}
