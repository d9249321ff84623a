use super::*;
use crate::overlay::state::Mac;

fn state(json: &str) -> Result<DesiredState, String> {
    let s: DesiredState = serde_json::from_str(json).map_err(|e| e.to_string())?;
    s.validate().map_err(|e| e.to_string())?;
    Ok(s)
}

const NET: &str = r#""networks": [{"name": "front", "vni": 4097, "subnet": "10.10.0.0/24"}]"#;

fn with(endpoints: &str, remotes: &str) -> String {
    format!(
        r#"{{"underlay": {{"iface": "eth0"}}, {NET}, "endpoints": [{endpoints}], "remote_endpoints": [{remotes}]}}"#
    )
}

#[test]
fn a_good_state_parses_with_defaults() {
    let s = state(&with(
        r#"{"id": "t1", "netns": "t1", "network": "front", "ip": "10.10.0.2"}"#,
        r#"{"network": "front", "ip": "10.10.0.3", "node": "198.18.0.12"}"#,
    ))
    .unwrap();
    assert_eq!(s.underlay.vxlan_port, 4789);
    assert_eq!(s.endpoints[0].ifname, "eth0");
    assert_eq!(
        Mac::for_ip(s.endpoints[0].ip).to_string(),
        "02:42:0a:0a:00:02"
    );
    assert_eq!(s.networks[0].subnet.gateway().to_string(), "10.10.0.1");
}

#[test]
fn bad_states_are_refused_with_the_reason() {
    let cases = [
        (with(r#"{"id": "t1", "netns": "t1", "network": "back", "ip": "10.10.0.2"}"#, ""), "no network named"),
        (with(r#"{"id": "t1", "netns": "t1", "network": "front", "ip": "10.10.1.2"}"#, ""), "not a usable host"),
        (with(r#"{"id": "t1", "netns": "t1", "network": "front", "ip": "10.10.0.1"}"#, ""), "not a usable host"),
        (with(r#"{"id": "t1", "netns": "t1", "network": "front", "ip": "10.10.0.255"}"#, ""), "not a usable host"),
        (
            with(
                r#"{"id": "t1", "netns": "t1", "network": "front", "ip": "10.10.0.2"}"#,
                r#"{"network": "front", "ip": "10.10.0.2", "node": "198.18.0.12"}"#,
            ),
            "duplicate address",
        ),
        (
            with(
                r#"{"id": "t1", "netns": "t1", "network": "front", "ip": "10.10.0.2"},
                   {"id": "t1", "netns": "t2", "network": "front", "ip": "10.10.0.3"}"#,
                "",
            ),
            "duplicate endpoint id",
        ),
        (with(r#"{"id": "t1", "netns": "a/b", "network": "front", "ip": "10.10.0.2"}"#, ""), "invalid netns"),
        (
            with(r#"{"id": "t1", "netns": "t1", "ifname": "much-too-long-name", "network": "front", "ip": "10.10.0.2"}"#, ""),
            "invalid interface name",
        ),
        (
            with(r#"{"id": "t1", "netns": "t1", "network": "front", "ip": "10.10.0.2", "mac": "01:00:00:00:00:01"}"#, ""),
            "multicast",
        ),
        (r#"{"underlay": {"iface": "eth0"}, "networks": [{"name": "a", "vni": 0, "subnet": "10.0.0.0/24"}]}"#.into(), "VNI"),
        (r#"{"underlay": {"iface": "eth0"}, "networks": [{"name": "a", "vni": 16777216, "subnet": "10.0.0.0/24"}]}"#.into(), "VNI"),
        (r#"{"underlay": {"iface": "eth0"}, "networks": [{"name": "a", "vni": 1, "subnet": "10.0.0.1/24"}]}"#.into(), "host bits"),
        (r#"{"underlay": {"iface": "eth0"}, "networks": [{"name": "a", "vni": 1, "subnet": "10.0.0.0/31"}]}"#.into(), "8..=30"),
        (
            r#"{"underlay": {"iface": "eth0"}, "networks": [{"name": "a", "vni": 1, "subnet": "10.0.0.0/24"},
               {"name": "b", "vni": 1, "subnet": "10.0.1.0/24"}]}"#
                .into(),
            "duplicate VNI",
        ),
        (r#"{"underlay": {"iface": "eth0", "vxlan_port": 0}}"#.into(), "vxlan_port"),
        (r#"{"underlay": {"iface": "eth0"}, "bogus": 1}"#.into(), "unknown field"),
    ];
    for (json, want) in cases {
        let err = state(&json).unwrap_err();
        assert!(
            err.contains(want),
            "{json}\n  gave {err:?}, wanted {want:?}"
        );
    }
}

#[test]
fn peers_default_to_none_and_add_to_the_remote_endpoints_nodes() {
    let mut s = state(&with(
        "",
        r#"{"network": "front", "ip": "10.10.0.3", "node": "198.18.0.12"}"#,
    ))
    .unwrap();
    assert!(s.peers.is_empty(), "a state without peers stays valid");
    let (n12, n13) = (
        std::net::Ipv4Addr::new(198, 18, 0, 12),
        std::net::Ipv4Addr::new(198, 18, 0, 13),
    );
    s.peers = vec![n13, n12];
    let peers: Vec<_> = s.overlay_view().peer_addrs().into_iter().collect();
    assert_eq!(peers, [n12, n13], "distinct, sorted");
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<DesiredState>(&json).unwrap(), s);
}
