//! `--config`, `--config-add` and `--config-rm` of `service create/update`.

use clap::Parser;

use super::*;
use shoal_control::spec::ConfigRef;

#[derive(Debug, Parser)]
struct Create {
    #[command(flatten)]
    flags: CreateFlags,
}

#[derive(Debug, Parser)]
struct Update {
    #[command(flatten)]
    flags: UpdateFlags,
}

fn create(args: &[&str]) -> ServiceSpec {
    let flags = Create::try_parse_from(std::iter::once("create").chain(args.iter().copied()))
        .unwrap()
        .flags;
    create_spec(&flags, "web", |_| None).unwrap()
}

#[test]
fn configs_from_create_flags() {
    let spec = create(&[
        "--config",
        "site",
        "--config",
        "source=nginx,target=/etc/nginx/nginx.conf,uid=101,gid=101,mode=0440",
        "nginx",
    ]);
    assert_eq!(
        spec.task.configs,
        vec![
            ConfigRef::named("site"),
            ConfigRef {
                source: "nginx".into(),
                target: "/etc/nginx/nginx.conf".into(),
                uid: 101,
                gid: 101,
                mode: 0o440,
            }
        ]
    );
    assert_eq!(
        spec.task.configs[0].target, "/site",
        "Docker's default target"
    );
}

#[test]
fn update_removes_by_name_and_replaces_at_the_target() {
    let spec = create(&[
        "--config",
        "site",
        "--config",
        "source=a,target=/etc/a",
        "nginx",
    ]);
    let flags = Update::try_parse_from([
        "update",
        "--config-rm",
        "site",
        "--config-add",
        "source=b,target=/etc/a",
        "web",
    ])
    .unwrap()
    .flags;
    let spec = update_spec(&flags, spec).unwrap();
    let sources: Vec<_> = spec
        .task
        .configs
        .iter()
        .map(|c| c.source.as_str())
        .collect();
    assert_eq!(sources, ["b"]);
}

#[test]
fn bad_configs_are_refused_by_the_parser() {
    for (value, message) in [
        ("source=site,target=/etc/../x", "invalid config target"),
        ("source=site,mode=1777", "at most 0777"),
        ("source=site,owner=0", "unknown key"),
    ] {
        let err = Create::try_parse_from(["create", "--config", value, "nginx"]).unwrap_err();
        assert!(err.to_string().contains(message), "{value}: {err}");
    }
}
