use super::*;

fn filters(json: &str) -> Filters {
    let query: FilterQuery = serde_json::from_value(json!({ "filters": json })).expect("query");
    query.parse().expect("filters")
}

fn event(kind: &'static str, action: &'static str, id: &str, name: &str) -> Event {
    Event {
        kind,
        action,
        id: id.to_owned(),
        name: name.to_owned(),
    }
}

#[test]
fn filters_select_by_type_action_and_object() {
    let web = event("service", "create", "s1abc", "web");
    let net = event("network", "remove", "n1", "front");
    let by_type = filters(r#"{"type":{"service":true}}"#);
    assert!(passes(&by_type, &web));
    assert!(!passes(&by_type, &net));
    let by_action = filters(r#"{"event":["remove"]}"#);
    assert!(!passes(&by_action, &web) && passes(&by_action, &net));
    let by_name = filters(r#"{"service":["web"]}"#);
    assert!(passes(&by_name, &web));
    assert!(
        !passes(&by_name, &net),
        "a service filter keeps only that service's events"
    );
    let by_id_prefix = filters(r#"{"service":["s1"]}"#);
    assert!(passes(&by_id_prefix, &web));
    assert!(!passes(&filters(r#"{"service":["api"]}"#), &web));
    assert!(
        !passes(&filters(r#"{"scope":["local"]}"#), &web),
        "all are swarm events"
    );
    assert!(passes(&Filters::default(), &net));
}

#[test]
fn times_are_docker_timestamps_and_since_cannot_replay() {
    assert_eq!(
        parse_time("until", "12.5"),
        Ok(Duration::new(12, 500_000_000))
    );
    assert_eq!(parse_time("until", "12"), Ok(Duration::from_secs(12)));
    for bad in ["", "x", "1.x", "1.1234567890", "-1"] {
        assert!(parse_time("until", bad).is_err(), "{bad:?}");
    }
    let now = Duration::from_secs(1_000);
    let times = |since: Option<&str>, until: Option<&str>| TimeQuery {
        since: since.map(str::to_owned),
        until: until.map(str::to_owned),
    };
    assert_eq!(
        window(&times(None, Some("1010")), now),
        Ok(Some(Duration::from_secs(1_010)))
    );
    assert_eq!(
        window(&times(Some("999.5"), None), now),
        Ok(None),
        "a moment ago is now"
    );
    assert_eq!(
        window(&times(Some("900"), None), now),
        Err(EventsError::NoHistory)
    );
}

#[test]
fn an_event_is_docker_s_json_line() {
    let bytes = line(
        &event("config", "update", "c1", "site"),
        Duration::new(7, 5),
    );
    let text = std::str::from_utf8(&bytes).expect("utf-8");
    assert!(text.ends_with('\n'), "{text}");
    let value: serde_json::Value = serde_json::from_str(text).expect("json");
    assert_eq!(value["Type"], "config");
    assert_eq!(value["Action"], "update");
    assert_eq!(value["Actor"]["ID"], "c1");
    assert_eq!(value["Actor"]["Attributes"]["name"], "site");
    assert_eq!(value["scope"], "swarm");
    assert_eq!(
        (value["time"].as_u64(), value["timeNano"].as_u64()),
        (Some(7), Some(7_000_000_005))
    );
}
