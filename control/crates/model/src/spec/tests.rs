use std::time::Duration;

use super::*;

fn spec() -> ServiceSpec {
    ServiceSpec::new("web", "nginx:1.27")
}

#[test]
fn spans_parse_and_print_like_go() {
    let cases = [
        ("0", 0),
        ("10s", 10_000),
        ("1m30s", 90_000),
        ("1.5s", 1_500),
        ("300ms", 300),
        ("1h", 3_600_000),
    ];
    for (text, millis) in cases {
        let span: Span = text.parse().expect(text);
        assert_eq!(span.0, Duration::from_millis(millis), "{text}");
    }
    assert_eq!(Span::from_millis(90_000).to_string(), "1m30s");
    assert_eq!(Span::from_millis(300).to_string(), "300ms");
    assert_eq!(Span::ZERO.to_string(), "0s");
    for bad in ["", "10", "-5s", "5x", "s", "1..2s"] {
        assert_eq!(
            bad.parse::<Span>(),
            Err(SpecError::BadDuration {
                value: bad.to_owned()
            }),
            "{bad}"
        );
    }
}

#[test]
fn spec_json_round_trips_with_defaults() {
    let json = r#"{"name":"web","image":"nginx","mode":{"replicated":{"replicas":3}},
        "restart_policy":{"condition":"on-failure","delay":"10s","max_attempts":3},
        "update_config":{"parallelism":2,"order":"start-first","failure_action":"rollback"}}"#;
    let parsed: ServiceSpec = serde_json::from_str(json).expect("parse");
    assert_eq!(parsed.mode, ServiceMode::Replicated { replicas: 3 });
    assert_eq!(parsed.task.restart_policy.delay, Span::from_secs(10));
    assert_eq!(parsed.update_config.order, UpdateOrder::StartFirst);
    assert_eq!(parsed.update_config.monitor, Span::from_secs(5));
    assert_eq!(parsed.rollback_config, UpdateConfig::default());
    let again: ServiceSpec =
        serde_json::from_value(serde_json::to_value(&parsed).expect("ser")).expect("de");
    assert_eq!(again, parsed);
    let bad = r#"{"name":"web","image":"nginx","mode":"global","healthcheck":{"cmd":["NONE"],"interval":"soon"}}"#;
    let error = serde_json::from_str::<ServiceSpec>(bad).expect_err("bad duration");
    assert!(error.to_string().contains("invalid duration"), "{error}");
}

#[test]
fn valid_spec_passes() {
    let mut spec = spec();
    spec.task.placement.constraints =
        vec!["node.labels.zone==a".into(), "node.role!=manager".into()];
    spec.task.placement.preferences = vec!["spread=node.labels.zone".into()];
    spec.ports = vec![
        "8080:80".parse().expect("port"),
        "53/udp".parse().expect("port"),
    ];
    assert_eq!(spec.validate(), Ok(()));
}

#[test]
fn invalid_specs_say_why() {
    type Case = (fn(&mut ServiceSpec), SpecError);
    let cases: Vec<Case> = vec![
        (|s| s.task.image = " ".into(), SpecError::EmptyImage),
        (
            |s| s.name = "_web".into(),
            SpecError::InvalidName {
                name: "_web".into(),
            },
        ),
        (
            |s| s.name = "app.web".into(),
            SpecError::InvalidName {
                name: "app.web".into(),
            },
        ),
        (
            |s| s.task.placement.constraints = vec!["node.labels.zone=a".into()],
            SpecError::ConstraintOperator {
                constraint: "node.labels.zone=a".into(),
            },
        ),
        (
            |s| s.task.placement.constraints = vec!["node.colour==red".into()],
            SpecError::ConstraintKey {
                key: "node.colour".into(),
            },
        ),
        (
            |s| s.task.placement.preferences = vec!["binpack=node.labels.zone".into()],
            SpecError::UnknownPreference {
                strategy: "binpack".into(),
            },
        ),
        (
            |s| s.task.placement.preferences = vec!["spread".into()],
            SpecError::PreferenceSyntax {
                preference: "spread".into(),
            },
        ),
        (
            |s| {
                s.mode = ServiceMode::Global;
                s.task.placement.max_replicas_per_node = 2;
            },
            SpecError::MaxReplicasOnGlobal,
        ),
        (
            |s| s.ports = vec![port(8080, 80), port(8080, 81)],
            SpecError::DuplicatePublishedPort {
                port: 8080,
                protocol: Protocol::Tcp,
                mode: PublishMode::Ingress,
            },
        ),
        (|s| s.ports = vec![port(8080, 0)], SpecError::ZeroTargetPort),
        (
            |s| {
                s.task.healthcheck = Some(HealthCheck {
                    cmd: vec!["CMD".into(), "true".into()],
                    interval: Span(Duration::from_micros(10)),
                    ..HealthCheck::default()
                })
            },
            SpecError::HealthcheckTooShort { field: "Interval" },
        ),
        (
            |s| s.update_config.max_failure_ratio = 1.5,
            SpecError::FailureRatio {
                config: "UpdateConfig",
                ratio: "1.5".into(),
            },
        ),
        (
            |s| s.rollback_config.failure_action = FailureAction::Rollback,
            SpecError::RollbackOfRollback,
        ),
        (
            |s| s.task.networks = vec!["front".into(), "front".into()],
            SpecError::DuplicateNetwork {
                network: "front".into(),
            },
        ),
    ];
    for (mutate, expected) in cases {
        let mut spec = spec();
        mutate(&mut spec);
        assert_eq!(spec.validate(), Err(expected));
    }
}

fn port(published: u16, target: u16) -> PortConfig {
    PortConfig {
        published,
        target,
        protocol: Protocol::Tcp,
        mode: PublishMode::Ingress,
    }
}

#[test]
fn udp_and_tcp_may_share_a_published_port() {
    let mut spec = spec();
    spec.ports = vec![
        "53:53/tcp".parse().expect("tcp"),
        "53:53/udp".parse().expect("udp"),
    ];
    assert_eq!(spec.validate(), Ok(()));
}

#[test]
fn modes_from_flags() {
    assert_eq!(
        ServiceMode::from_flags("replicated", None),
        Ok(ServiceMode::Replicated { replicas: 1 })
    );
    assert_eq!(
        ServiceMode::from_flags("global", None),
        Ok(ServiceMode::Global)
    );
    assert_eq!(
        ServiceMode::from_flags("global", Some(3)),
        Err(SpecError::ReplicasOnGlobal)
    );
    assert!(ServiceMode::from_flags("job", None).is_err());
}

#[test]
fn ports_parse_short_and_long() {
    let long: PortConfig = "published=8080,target=80,protocol=udp,mode=host"
        .parse()
        .expect("long");
    assert_eq!(
        long,
        PortConfig {
            published: 8080,
            target: 80,
            protocol: Protocol::Udp,
            mode: PublishMode::Host
        }
    );
    assert_eq!("80".parse::<PortConfig>().expect("short").published, 0);
    for bad in ["x:80", "80/sctp", "99999:80", "mode=bridge,target=80"] {
        assert!(bad.parse::<PortConfig>().is_err(), "{bad}");
    }
}

#[test]
fn constraints_match_nodes_case_insensitively() {
    let mut node = SchedNode::worker("n1");
    node.labels.insert("zone".into(), "A".into());
    let holds = |text: &str| text.parse::<Constraint>().expect(text).matches(&node);
    assert!(holds("node.labels.zone==a"));
    assert!(!holds("node.labels.zone!=a"));
    assert!(
        holds("node.labels.rack!=r1"),
        "a missing label is the empty string"
    );
    assert!(!holds("node.labels.rack==r1"));
    assert!(holds("node.role!=manager"));
    assert!(holds("node.hostname==n1"));
    assert!(holds("node.id != n2"));
    let parsed: Constraint = "node.labels.zone==a".parse().expect("parse");
    assert_eq!(parsed.to_string(), "node.labels.zone==a");
}

#[test]
fn tasks_classify_their_states() {
    assert!(TaskState::Failed.is_terminal());
    assert!(!TaskState::Running.is_terminal());
    assert_eq!(TaskState::Running.name(), "running");
    let json = serde_json::to_value(TaskState::Shutdown).expect("ser");
    assert_eq!(json, serde_json::json!("shutdown"));
}

#[test]
fn replicas_over_the_cap_are_refused_and_the_cap_itself_is_allowed() {
    let mut s = spec();
    s.mode = ServiceMode::Replicated {
        replicas: 4_294_967_296,
    };
    assert_eq!(
        s.validate(),
        Err(SpecError::TooManyReplicas {
            replicas: 4_294_967_296,
            max: MAX_REPLICAS
        })
    );
    s.mode = ServiceMode::Replicated {
        replicas: MAX_REPLICAS,
    };
    assert_eq!(s.validate(), Ok(()));
}

#[test]
fn oversized_lists_and_values_are_refused_with_the_field_named() {
    let mut s = spec();
    s.task.env = vec!["A=1".to_owned(); SpecLimits::ENTRIES + 1];
    assert_eq!(
        s.validate(),
        Err(SpecError::TooManyEntries {
            field: "env",
            count: SpecLimits::ENTRIES + 1,
            max: SpecLimits::ENTRIES
        })
    );
    let mut s = spec();
    s.task.args = vec!["x".repeat(SpecLimits::VALUE_BYTES + 1)];
    let err = s.validate().expect_err("a 32 KiB + 1 argument");
    assert_eq!(
        err.to_string(),
        format!(
            "args: a value of {} bytes, at most {} allowed",
            SpecLimits::VALUE_BYTES + 1,
            SpecLimits::VALUE_BYTES
        )
    );
    let mut s = spec();
    s.task.image = "i".repeat(SpecLimits::IMAGE_BYTES + 1);
    assert!(matches!(
        s.validate(),
        Err(SpecError::ValueTooLong { field: "image", .. })
    ));
    let mut s = spec();
    s.task.env = vec!["A=1".to_owned(); SpecLimits::ENTRIES];
    assert_eq!(s.validate(), Ok(()), "exactly the limit is fine");
}

#[test]
fn secrets_parse_short_and_long_syntax() {
    let short: SecretRef = "db".parse().unwrap();
    assert_eq!(short, SecretRef::named("db"));
    assert_eq!(
        (short.path(), short.uid, short.mode),
        ("/run/secrets/db".to_owned(), 0, 0o444)
    );
    let long: SecretRef = "source=db,target=app/key,uid=1000,gid=50,mode=0400"
        .parse()
        .unwrap();
    assert_eq!(
        long,
        SecretRef {
            source: "db".to_owned(),
            target: "app/key".to_owned(),
            uid: 1000,
            gid: 50,
            mode: 0o400,
        }
    );
    let absolute: SecretRef = "source=db,target=/run/secrets/x".parse().unwrap();
    assert_eq!(absolute.target, "x");
    let no_target: SecretRef = "source=db,mode=440".parse().unwrap();
    assert_eq!((no_target.target.as_str(), no_target.mode), ("db", 0o440));
}

#[test]
fn bad_secrets_are_refused_with_the_reason() {
    for target in [
        "/etc/passwd",
        "/run/secretsx/a",
        "../x",
        "a/../../b",
        "/run/secrets/",
    ] {
        let text = format!("source=db,target={target}");
        assert_eq!(
            text.parse::<SecretRef>(),
            Err(SpecError::SecretTarget {
                target: target.to_owned()
            }),
            "{text}"
        );
    }
    assert_eq!(
        "source=db,mode=1777".parse::<SecretRef>(),
        Err(SpecError::SecretMode { mode: 0o1777 })
    );
    for bad in [
        "source=db,mode=9",
        "source=db,uid=x",
        "source=db,colour=red",
        "target=x",
    ] {
        assert!(
            matches!(
                bad.parse::<SecretRef>(),
                Err(SpecError::SecretSyntax { .. })
            ),
            "{bad}"
        );
    }
    let mut s = spec();
    s.task.secrets = vec![SecretRef::named("a"), "source=b,target=a".parse().unwrap()];
    assert_eq!(
        s.validate(),
        Err(SpecError::DuplicateSecretTarget {
            target: "a".to_owned()
        })
    );
    s.task.secrets = vec![SecretRef {
        target: "../etc/shadow".to_owned(),
        ..SecretRef::named("a")
    }];
    assert!(matches!(s.validate(), Err(SpecError::SecretTarget { .. })));
}

#[test]
fn stored_specs_with_secret_names_still_decode() {
    let json = r#"{"name":"web","image":"nginx","mode":{"replicated":{"replicas":1}},
                  "secrets":["db_password"]}"#;
    let spec: ServiceSpec = serde_json::from_str(json).unwrap();
    assert_eq!(spec.task.secrets, [SecretRef::named("db_password")]);
    assert_eq!(spec.task.pids_limit, None);
    assert!(!spec.task.seccomp_unconfined);
    assert_eq!(spec.task.effective_pids_limit(), Some(DEFAULT_PIDS_LIMIT));
    // The new form round-trips.
    let mut spec = spec;
    spec.task
        .secrets
        .push("source=k,target=app/k,uid=1000,mode=0400".parse().unwrap());
    spec.task.pids_limit = Some(0);
    spec.task.seccomp_unconfined = true;
    let back: ServiceSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
    assert_eq!(back.task.effective_pids_limit(), None);
}

#[test]
fn security_opts_are_seccomp_unconfined_or_builtin() {
    let mut task = spec().task;
    "seccomp=unconfined"
        .parse::<SecurityOpt>()
        .unwrap()
        .apply(&mut task);
    assert!(task.seccomp_unconfined);
    "seccomp:builtin"
        .parse::<SecurityOpt>()
        .unwrap()
        .apply(&mut task);
    assert!(!task.seccomp_unconfined);
    for bad in [
        "apparmor=unconfined",
        "seccomp=/etc/profile.json",
        "no-new-privileges",
    ] {
        let err = bad.parse::<SecurityOpt>().unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn status_texts_are_cut_to_their_bound_with_a_marker() {
    use super::{MAX_STATUS_TEXT_LEN, TRUNCATED_MARKER, TaskStatus};
    let short = TaskStatus {
        message: "started".to_owned(),
        err: Some("exit status 1".to_owned()),
        ..TaskStatus::default()
    };
    assert_eq!(short.clone().bounded(), short, "short texts stay whole");
    // A multi-byte character straddles the cut: the cut backs off to a
    // character boundary rather than panicking or splitting it.
    let long = "é".repeat(MAX_STATUS_TEXT_LEN);
    let bounded = TaskStatus {
        message: long.clone(),
        err: Some(long),
        ..TaskStatus::default()
    }
    .bounded();
    for text in [&bounded.message, bounded.err.as_ref().unwrap()] {
        assert!(text.len() <= MAX_STATUS_TEXT_LEN, "{} bytes", text.len());
        assert!(
            text.ends_with(TRUNCATED_MARKER),
            "cut text ends with the marker"
        );
        assert!(text.len() > MAX_STATUS_TEXT_LEN - TRUNCATED_MARKER.len() - 2);
    }
}

#[test]
fn hostnames_and_aliases_must_be_dns_names_on_attached_networks() {
    let mut ok = spec();
    ok.task.networks = vec!["back".to_owned()];
    ok.task.hostname = Some("db-1.internal".to_owned());
    ok.task
        .network_aliases
        .insert("back".to_owned(), vec!["store".to_owned()]);
    assert_eq!(ok.validate(), Ok(()));
    let json = serde_json::to_value(&ok).unwrap();
    assert_eq!(serde_json::from_value::<ServiceSpec>(json).unwrap(), ok);

    let mut bad = ok.clone();
    bad.task.hostname = Some("db_1".to_owned());
    assert_eq!(
        bad.validate(),
        Err(SpecError::InvalidHostname {
            hostname: "db_1".to_owned()
        })
    );
    let mut bad = ok.clone();
    bad.task
        .network_aliases
        .insert("front".to_owned(), vec!["x".to_owned()]);
    assert_eq!(
        bad.validate(),
        Err(SpecError::AliasNetwork {
            network: "front".to_owned()
        })
    );
    let mut bad = ok;
    bad.task
        .network_aliases
        .insert("back".to_owned(), vec!["-x".to_owned()]);
    assert_eq!(
        bad.validate(),
        Err(SpecError::InvalidAlias {
            alias: "-x".to_owned()
        })
    );
}
