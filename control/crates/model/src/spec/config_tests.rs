use super::*;

#[test]
fn configs_parse_short_and_long_syntax() {
    let short: ConfigRef = "site".parse().unwrap();
    assert_eq!(short, ConfigRef::named("site"));
    assert_eq!(
        (short.target.as_str(), short.uid, short.mode),
        ("/site", 0, 0o444),
        "a bare name lands at /NAME, root's, 0444 (Docker's default)"
    );
    let long: ConfigRef = "source=site,target=/etc/nginx/nginx.conf,uid=101,gid=102,mode=0440"
        .parse()
        .unwrap();
    assert_eq!(
        long,
        ConfigRef {
            source: "site".to_owned(),
            target: "/etc/nginx/nginx.conf".to_owned(),
            uid: 101,
            gid: 102,
            mode: 0o440,
        }
    );
    let relative: ConfigRef = "source=site,target=app/conf".parse().unwrap();
    assert_eq!(relative.target, "/app/conf", "a relative target is from /");
}

#[test]
fn bad_configs_are_refused_with_the_reason() {
    for target in ["/", "/etc/../x", "a/./b", "/etc//x", "/etc/x/"] {
        let text = format!("source=site,target={target}");
        assert!(
            matches!(
                text.parse::<ConfigRef>(),
                Err(SpecError::ConfigTarget { .. })
            ),
            "{text} should be refused as a target"
        );
    }
    for (text, reason) in [
        ("source=site,mode=999", "mode is not an octal number"),
        ("source=site,uid=x", "uid is not a number"),
        ("source=site,owner=1", "unknown key"),
        ("target=/x", "the config's name (source) is empty"),
    ] {
        match text.parse::<ConfigRef>() {
            Err(SpecError::ConfigSyntax { reason: got, .. }) => {
                assert!(got.starts_with(reason), "{text}: {got}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    assert_eq!(
        "source=site,mode=1777".parse::<ConfigRef>(),
        Err(SpecError::ConfigMode { mode: 0o1777 })
    );
}

#[test]
fn two_configs_at_one_target_are_refused() {
    let mut s = ServiceSpec::new("web", "nginx:1.27");
    s.task.configs = vec![ConfigRef::named("a"), "source=b,target=/a".parse().unwrap()];
    assert_eq!(
        s.validate(),
        Err(SpecError::DuplicateConfigTarget {
            target: "/a".to_owned()
        })
    );
    s.task.configs.pop();
    assert_eq!(s.validate(), Ok(()));
}

#[test]
fn specs_without_configs_decode_and_configs_round_trip() {
    let mut s = ServiceSpec::new("web", "nginx:1.27");
    let json = serde_json::to_string(&s).unwrap();
    assert!(!json.contains("configs"), "no configs, no field: {json}");
    s.task.configs = vec!["source=site,target=/etc/site,mode=0400".parse().unwrap()];
    let back: ServiceSpec = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
}
