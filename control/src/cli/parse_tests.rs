use shoal_control::spec::{PortConfig, Protocol, PublishMode, Span};

use super::*;

#[test]
fn sizes_use_binary_units_like_docker() {
    assert_eq!(memory_bytes("64M"), Ok(64 << 20));
    assert_eq!(memory_bytes("64m"), Ok(64 << 20));
    assert_eq!(memory_bytes("512KiB"), Ok(512 << 10));
    assert_eq!(memory_bytes("1.5g"), Ok(3 << 29));
    assert_eq!(memory_bytes("2 GB"), Ok(2 << 30));
    assert_eq!(memory_bytes("100"), Ok(100));
    assert_eq!(memory_bytes("100b"), Ok(100));
}

#[test]
fn bad_sizes_are_refused_with_the_text() {
    for text in ["", "M", "64X", "-1m", "1..5m", "64mbb", "64bi", "1e3"] {
        let err = memory_bytes(text).unwrap_err();
        assert_eq!(
            err,
            ParseError::Size {
                text: text.to_owned()
            },
            "{text:?}"
        );
    }
    assert!(
        memory_bytes("64X")
            .unwrap_err()
            .to_string()
            .contains("\"64X\"")
    );
}

#[test]
fn cpus_become_billionths() {
    assert_eq!(nano_cpus("0.5"), Ok(500_000_000));
    assert_eq!(nano_cpus("2"), Ok(2_000_000_000));
    assert_eq!(nano_cpus("1.25"), Ok(1_250_000_000));
    assert_eq!(nano_cpus("0.000000001"), Ok(1));
    for text in ["", "-1", "half", "0.0000000001", ".5", "1.2.3"] {
        assert_eq!(
            nano_cpus(text),
            Err(ParseError::Cpus {
                text: text.to_owned()
            }),
            "{text:?}"
        );
    }
}

#[test]
fn durations_and_ports_use_the_spec_parsers() {
    assert_eq!(span("1m30s"), Ok(Span::from_secs(90)));
    assert_eq!(span("500ms"), Ok(Span::from_millis(500)));
    let err = span("5 minutes").unwrap_err();
    assert_eq!(err.to_string(), "time: invalid duration \"5 minutes\"");
    assert_eq!(
        port("8080:80/udp"),
        Ok(PortConfig {
            published: 8080,
            target: 80,
            protocol: Protocol::Udp,
            mode: PublishMode::Ingress,
        })
    );
    assert_eq!(
        port("published=8080,target=80,mode=host").map(|p| p.mode),
        Ok(PublishMode::Host)
    );
    assert!(
        port("8080:http")
            .unwrap_err()
            .to_string()
            .contains("8080:http")
    );
}

#[test]
fn ratios_must_lie_between_zero_and_one() {
    assert_eq!(ratio("0.25"), Ok(0.25));
    assert!(ratio("1.5").is_err());
    assert!(ratio("-0.1").is_err());
    assert!(ratio("lots").is_err());
}

#[test]
fn bare_env_keys_take_the_shell_value_or_fail() {
    let lookup = |key: &str| (key == "HOME").then(|| "/root".to_owned());
    assert_eq!(env_entry("A=1", lookup), Ok("A=1".to_owned()));
    assert_eq!(env_entry("HOME", lookup), Ok("HOME=/root".to_owned()));
    assert_eq!(
        env_entry("NOPE", lookup),
        Err(ParseError::UnsetEnv { key: "NOPE".into() })
    );
    assert_eq!(env_key("A=b=c"), "A");
    assert_eq!(env_key("A"), "A");
}

#[test]
fn labels_and_scale_specifiers() {
    let parsed = labels(&["a=1".into(), "b".into(), "a=2".into()]).unwrap();
    assert_eq!(parsed.get("a").map(String::as_str), Some("2"));
    assert_eq!(parsed.get("b").map(String::as_str), Some(""));
    assert!(labels(&["=x".into()]).is_err());
    assert_eq!(scale_specifier("web=5"), Ok(("web".to_owned(), 5)));
    assert!(matches!(
        scale_specifier("web"),
        Err(ParseError::KeyValue { .. })
    ));
    assert!(matches!(
        scale_specifier("=5"),
        Err(ParseError::KeyValue { .. })
    ));
    assert!(matches!(
        scale_specifier("web=-1"),
        Err(ParseError::Replicas { .. })
    ));
}

#[test]
fn publish_rm_matches_by_published_port() {
    let udp = port("8080:80/udp").unwrap();
    let tcp = port("8080:80").unwrap();
    let any = port_to_remove("8080").unwrap();
    assert!(any.matches(&udp) && any.matches(&tcp));
    let only_udp = port_to_remove("8080/udp").unwrap();
    assert!(only_udp.matches(&udp) && !only_udp.matches(&tcp));
    assert!(port_to_remove("8080:80").unwrap().matches(&tcp));
    assert!(!port_to_remove("9090").unwrap().matches(&tcp));
    assert!(port_to_remove("http").is_err());
    assert!(port_to_remove("80/sctp").is_err());
}

#[test]
fn args_split_like_a_shell() {
    assert_eq!(
        shell_words(r#"sh -c 'echo "hi there"' x\ y "a\"b""#).unwrap(),
        vec!["sh", "-c", "echo \"hi there\"", "x y", "a\"b"]
    );
    assert_eq!(shell_words("  ").unwrap(), Vec::<String>::new());
    assert_eq!(shell_words("''").unwrap(), vec![""]);
    assert!(matches!(
        shell_words("echo 'oops"),
        Err(ParseError::Quote { .. })
    ));
}
