use clap::Parser;
use shoal_control::spec::{
    EndpointMode, FailureAction, HealthCheck, Protocol, PublishMode, RestartCondition, Span,
    UpdateOrder,
};

use super::*;

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

fn create_flags(args: &str) -> CreateFlags {
    Create::try_parse_from(std::iter::once("create").chain(args.split_whitespace()))
        .unwrap()
        .flags
}

fn update_flags(args: &str) -> UpdateFlags {
    Update::try_parse_from(std::iter::once("update").chain(args.split_whitespace()))
        .unwrap()
        .flags
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn create(args: &str) -> Result<ServiceSpec, FlagError> {
    let flags = create_flags(args);
    let name = flags.name.clone().unwrap_or_else(|| "svc".to_owned());
    create_spec(&flags, &name, no_env)
}

#[test]
fn create_flags_fill_the_spec() {
    let spec = create(
        "--name web --replicas 3 -e A=1 --env B=2 --network front -p 8080:80 \
         -p published=53,target=53,protocol=udp,mode=host --constraint node.role==worker \
         --placement-pref spread=node.labels.zone --replicas-max-per-node 2 \
         --restart-condition on-failure --restart-delay 1m30s --restart-max-attempts 4 \
         --update-parallelism 2 --update-order start-first --update-failure-action rollback \
         --update-delay 500ms --rollback-monitor 20s --endpoint-mode dnsrr \
         --limit-cpu 0.5 --limit-memory 64M --reserve-memory 1g --secret db \
         busybox:latest sh -c sleep",
    )
    .unwrap();
    assert_eq!(spec.name, "web");
    assert_eq!(spec.mode, ServiceMode::Replicated { replicas: 3 });
    assert_eq!(spec.task.image, "busybox:latest");
    assert_eq!(spec.task.args, vec!["sh", "-c", "sleep"]);
    assert_eq!(spec.task.env, vec!["A=1", "B=2"]);
    assert_eq!(spec.task.networks, vec!["front"]);
    assert_eq!(spec.task.secrets, vec![SecretRef::named("db")]);
    assert_eq!(spec.ports.len(), 2);
    assert_eq!((spec.ports[0].published, spec.ports[0].target), (8080, 80));
    assert_eq!(spec.ports[1].protocol, Protocol::Udp);
    assert_eq!(spec.ports[1].mode, PublishMode::Host);
    let placement = &spec.task.placement;
    assert_eq!(placement.constraints, vec!["node.role==worker"]);
    assert_eq!(placement.preferences, vec!["spread=node.labels.zone"]);
    assert_eq!(placement.max_replicas_per_node, 2);
    let restart = &spec.task.restart_policy;
    assert_eq!(restart.condition, RestartCondition::OnFailure);
    assert_eq!(restart.delay, Span::from_secs(90));
    assert_eq!(restart.max_attempts, 4);
    assert_eq!(spec.update_config.parallelism, 2);
    assert_eq!(spec.update_config.order, UpdateOrder::StartFirst);
    assert_eq!(spec.update_config.failure_action, FailureAction::Rollback);
    assert_eq!(spec.update_config.delay, Span::from_millis(500));
    assert_eq!(spec.rollback_config.monitor, Span::from_secs(20));
    assert_eq!(spec.endpoint_mode, EndpointMode::Dnsrr);
    assert_eq!(spec.task.limits.nano_cpus, 500_000_000);
    assert_eq!(spec.task.limits.memory_bytes, 64 << 20);
    assert_eq!(spec.task.resources.memory_bytes, 1 << 30);
    assert_eq!(spec.task.resources.nano_cpus, 0);
}

#[test]
fn create_defaults_to_one_replica_and_docker_policies() {
    let spec = create("--name web busybox").unwrap();
    assert_eq!(spec, ServiceSpec::new("web", "busybox"));
    let global = create("--name agent --mode global busybox").unwrap();
    assert_eq!(global.mode, ServiceMode::Global);
}

#[test]
fn create_refuses_contradictions_and_bad_specs() {
    assert_eq!(
        create("--mode global --replicas 2 busybox").unwrap_err(),
        FlagError::Spec(SpecError::ReplicasOnGlobal)
    );
    assert!(matches!(
        create("--name web- busybox"),
        Err(FlagError::Spec(SpecError::InvalidName { .. }))
    ));
    assert!(
        create("--name App_web busybox").is_ok(),
        "SwarmKit's names: a stack's app_web"
    );
    assert_eq!(
        create("-p 80:80 -p 80:81 busybox").unwrap_err().to_string(),
        "EndpointSpec: duplicate published ports provided: 80/Tcp (Ingress)"
    );
    assert!(matches!(
        create("--constraint node.role=worker busybox"),
        Err(FlagError::Spec(SpecError::ConstraintOperator { .. }))
    ));
}

#[test]
fn bad_flag_values_are_refused_by_the_parser() {
    let err = Create::try_parse_from(["create", "--restart-delay", "soon", "busybox"]).unwrap_err();
    assert!(
        err.to_string().contains("invalid duration \"soon\""),
        "{err}"
    );
    let err = Create::try_parse_from(["create", "--limit-memory", "lots", "busybox"]).unwrap_err();
    assert!(err.to_string().contains("invalid size \"lots\""), "{err}");
    let err = Create::try_parse_from(["create", "-p", "80:x", "busybox"]).unwrap_err();
    assert!(err.to_string().contains("invalid port \"80:x\""), "{err}");
    let err =
        Create::try_parse_from(["create", "--update-order", "random", "busybox"]).unwrap_err();
    assert!(err.to_string().contains("stop-first"), "{err}");
}

#[test]
fn bare_env_keys_come_from_the_shell() {
    let flags = create_flags("-e HOME -e X=1 busybox");
    let spec = create_spec(&flags, "svc", |key| {
        (key == "HOME").then(|| "/root".to_owned())
    })
    .unwrap();
    assert_eq!(spec.task.env, vec!["HOME=/root", "X=1"]);
    assert_eq!(
        create_spec(&create_flags("-e NOPE busybox"), "svc", no_env).unwrap_err(),
        FlagError::Parse(ParseError::UnsetEnv { key: "NOPE".into() })
    );
}

#[test]
fn health_flags_make_a_shell_check_or_disable_it() {
    let flags = Create::try_parse_from([
        "create",
        "--health-cmd",
        "curl -f localhost",
        "--health-interval",
        "10s",
        "--health-retries",
        "3",
        "busybox",
    ])
    .unwrap()
    .flags;
    let check = create_spec(&flags, "svc", no_env)
        .unwrap()
        .task
        .healthcheck
        .unwrap();
    assert_eq!(check.cmd, vec!["CMD-SHELL", "curl -f localhost"]);
    assert_eq!(check.interval, Span::from_secs(10));
    assert_eq!(check.retries, 3);
    let none = create("--no-healthcheck busybox").unwrap();
    assert_eq!(none.task.healthcheck.unwrap().cmd, vec!["NONE"]);
    assert_eq!(
        create("--no-healthcheck --health-retries 2 busybox").unwrap_err(),
        FlagError::HealthConflict
    );
    assert_eq!(
        create("--health-interval 5s busybox").unwrap_err(),
        FlagError::HealthWithoutCmd
    );
}

fn stored() -> ServiceSpec {
    let mut spec = ServiceSpec::new("web", "nginx:1");
    spec.mode = ServiceMode::Replicated { replicas: 2 };
    spec.task.env = vec!["A=1".into(), "B=2".into(), "C=3".into()];
    spec.task.networks = vec!["front".into(), "back".into()];
    spec.task.placement.constraints = vec!["node.role==worker".into()];
    spec.ports = vec![
        "8080:80".parse().unwrap(),
        "8080:80/udp".parse().unwrap(),
        "9090:90".parse().unwrap(),
    ];
    spec.task.healthcheck = Some(HealthCheck {
        cmd: vec!["CMD-SHELL".into(), "true".into()],
        retries: 1,
        ..HealthCheck::default()
    });
    spec
}

#[test]
fn update_changes_only_what_the_flags_name() {
    assert_eq!(
        update_spec(&update_flags("web"), stored()).unwrap(),
        stored()
    );
    let spec = update_spec(
        &update_flags(
            "--image nginx:2 --replicas 5 --env-add B=20 --env-add D=4 --env-rm C \
             --network-add extra --network-rm back --constraint-rm node.role==worker \
             --constraint-add node.labels.zone==a --health-retries 3 web",
        ),
        stored(),
    )
    .unwrap();
    assert_eq!(spec.task.image, "nginx:2");
    assert_eq!(spec.mode, ServiceMode::Replicated { replicas: 5 });
    assert_eq!(spec.task.env, vec!["A=1", "B=20", "D=4"]);
    assert_eq!(spec.task.networks, vec!["front", "extra"]);
    assert_eq!(spec.task.placement.constraints, vec!["node.labels.zone==a"]);
    let check = spec.task.healthcheck.unwrap();
    assert_eq!((check.cmd[1].as_str(), check.retries), ("true", 3));
    assert_eq!(spec.ports, stored().ports);
}

#[test]
fn update_publish_rm_by_published_port_and_add_replaces() {
    let spec = update_spec(&update_flags("--publish-rm 8080 web"), stored()).unwrap();
    assert_eq!(spec.ports, vec!["9090:90".parse().unwrap()]);
    let spec = update_spec(&update_flags("--publish-rm 8080/udp web"), stored()).unwrap();
    assert_eq!(spec.ports.len(), 2);
    assert!(spec.ports.iter().all(|p| p.protocol == Protocol::Tcp));
    let spec = update_spec(&update_flags("--publish-add 9090:91 web"), stored()).unwrap();
    let targets: Vec<u16> = spec.ports.iter().map(|p| p.target).collect();
    assert_eq!(targets, vec![80, 80, 91]);
}

#[test]
fn update_args_are_shell_split() {
    let flags = Update::try_parse_from(["update", "--args", "sh -c 'sleep 1'", "web"])
        .unwrap()
        .flags;
    let spec = update_spec(&flags, stored()).unwrap();
    assert_eq!(spec.task.args, vec!["sh", "-c", "sleep 1"]);
}

#[test]
fn replicas_are_refused_for_global_services() {
    let mut global = stored();
    global.mode = ServiceMode::Global;
    assert_eq!(
        update_spec(&update_flags("--replicas 3 web"), global.clone())
            .unwrap_err()
            .to_string(),
        "web: replicas can only be used with replicated mode"
    );
    assert_eq!(
        with_replicas(global, 3, true).unwrap_err().to_string(),
        "web: scale can only be used with replicated mode"
    );
    let scaled = with_replicas(stored(), 7, true).unwrap();
    assert_eq!(scaled.mode, ServiceMode::Replicated { replicas: 7 });
}

#[test]
fn generated_names_are_dns_labels() {
    assert_eq!(
        generated_name("docker.io/library/nginx:1.25", "x1"),
        "nginx-x1"
    );
    assert_eq!(generated_name("My_App@sha256:abc", "q"), "my-app-q");
    assert_eq!(generated_name("::", "z"), "service-z");
    let mut spec = ServiceSpec::new(&generated_name("Reg/Some.Image:tag", "abcde"), "x");
    spec.task.image = "x".into();
    assert_eq!(spec.validate(), Ok(()));
}

#[test]
fn secrets_pids_and_security_opts_from_flags() {
    let spec = create(
        "--secret db --secret source=key,target=app/key,uid=1000,mode=0400 \
         --limit-pids 100 --security-opt seccomp=unconfined busybox",
    )
    .unwrap();
    let key = &spec.task.secrets[1];
    assert_eq!(spec.task.secrets[0], SecretRef::named("db"));
    assert_eq!(
        (key.source.as_str(), key.target.as_str(), key.uid, key.mode),
        ("key", "app/key", 1000, 0o400)
    );
    assert_eq!(spec.task.pids_limit, Some(100));
    assert!(spec.task.seccomp_unconfined);
    let defaults = create("busybox").unwrap();
    assert_eq!(
        (defaults.task.pids_limit, defaults.task.seccomp_unconfined),
        (None, false)
    );

    let spec = update_spec(
        &update_flags(
            "--secret-rm db --secret-add source=other,target=app/key --limit-pids 0 \
             --security-opt seccomp=builtin web",
        ),
        spec,
    )
    .unwrap();
    let targets: Vec<_> = spec
        .task
        .secrets
        .iter()
        .map(|s| s.source.as_str())
        .collect();
    assert_eq!(
        targets,
        ["other"],
        "removed by name, replaced at its target"
    );
    assert_eq!(spec.task.effective_pids_limit(), None);
    assert!(!spec.task.seccomp_unconfined);

    for (flag, value, message) in [
        (
            "--security-opt",
            "apparmor=unconfined",
            "\"apparmor=unconfined\"",
        ),
        (
            "--secret",
            "source=db,target=/etc/passwd",
            "invalid secret target",
        ),
        ("--secret", "source=db,mode=1777", "at most 0777"),
        ("--limit-pids", "-1", "-1"),
    ] {
        let err = Create::try_parse_from(["create", flag, value, "busybox"]).unwrap_err();
        assert!(err.to_string().contains(message), "{flag} {value}: {err}");
    }
}

#[test]
fn network_aliases_and_hostname_come_from_flags_and_updates() {
    let spec = create(
        "--name db --network name=back,alias=store,alias=pg --network front --hostname dbhost busybox",
    )
    .unwrap();
    assert_eq!(spec.task.networks, vec!["back", "front"]);
    assert_eq!(
        spec.task.network_aliases.get("back").unwrap(),
        &vec!["store".to_owned(), "pg".to_owned()]
    );
    assert!(!spec.task.network_aliases.contains_key("front"));
    assert_eq!(spec.task.hostname.as_deref(), Some("dbhost"));
    let updated = update_spec(
        &update_flags("--network-rm back --network-add name=side,alias=s --hostname= db"),
        spec,
    )
    .unwrap();
    assert_eq!(updated.task.networks, vec!["front", "side"]);
    assert!(
        !updated.task.network_aliases.contains_key("back"),
        "gone with its network"
    );
    assert_eq!(
        updated.task.network_aliases.get("side").unwrap(),
        &vec!["s".to_owned()]
    );
    assert_eq!(
        updated.task.hostname, None,
        "an empty --hostname: the task name again"
    );
    for bad in [
        "--name db --network name=back,alias=no_underscores busybox",
        "--name db --hostname bad_host busybox",
    ] {
        assert!(create(bad).is_err(), "{bad} must be refused");
    }
    assert!(
        parse::network("alias=x").is_err(),
        "an alias needs its network"
    );
    assert!(parse::network("name=a,colour=b").is_err());
}

#[test]
fn service_and_container_labels_come_from_flags_and_updates() {
    let spec =
        create("--name web --label tier=front -l team --container-label log=json busybox").unwrap();
    assert_eq!(spec.labels.get("tier").map(String::as_str), Some("front"));
    assert_eq!(spec.labels.get("team").map(String::as_str), Some(""));
    assert_eq!(
        spec.task.container_labels.get("log").map(String::as_str),
        Some("json")
    );
    let relabelled = update_spec(
        &update_flags("--label-rm team --label-add tier=back web"),
        spec.clone(),
    )
    .unwrap();
    assert_eq!(
        relabelled.labels,
        std::collections::BTreeMap::from([("tier".to_owned(), "back".to_owned())])
    );
    assert_eq!(
        relabelled.task, spec.task,
        "service labels are not part of the task template: no task is replaced"
    );
    let updated = update_spec(&update_flags("--container-label-rm log web"), spec).unwrap();
    assert!(updated.task.container_labels.is_empty());
}

#[test]
fn mounts_come_from_flags_and_updates_replace_them_by_target() {
    let spec = create(
        "--name db --mount type=volume,source=pgdata,target=/var/lib/pg --mount type=tmpfs,target=/tmp busybox",
    )
    .unwrap();
    assert_eq!(spec.task.mounts.len(), 2);
    assert_eq!(spec.task.mounts[0].source, "pgdata");
    let updated = update_spec(
        &update_flags("--mount-rm /tmp --mount-add type=volume,source=pg2,target=/var/lib/pg db"),
        spec,
    )
    .unwrap();
    let sources: Vec<&str> = updated
        .task
        .mounts
        .iter()
        .map(|m| m.source.as_str())
        .collect();
    assert_eq!(sources, ["pg2"], "replaced at its target, /tmp removed");
    assert!(
        parse::mount("type=volume,target=/data").is_err(),
        "the parser refuses an anonymous volume"
    );
}

#[test]
fn the_image_is_pinned_on_create_and_on_update_only_when_given() {
    let create = create_flags("--with-registry-auth reg.example:5000/app:1");
    assert_eq!(
        create.images.query(true),
        "with_registry_auth=true&no_resolve_image=false"
    );
    let opted_out = create_flags("--no-resolve-image reg.example:5000/app:1");
    assert_eq!(
        opted_out.images.query(true),
        "with_registry_auth=false&no_resolve_image=true"
    );
    let update = update_flags("--replicas 3 web");
    assert_eq!(
        update.images.query(update.resolves_image()),
        "with_registry_auth=false&no_resolve_image=true",
        "a scale keeps the digest"
    );
    let new_image = update_flags("--image reg.example:5000/app:2 web");
    assert_eq!(
        new_image.images.query(new_image.resolves_image()),
        "with_registry_auth=false&no_resolve_image=false"
    );
}

#[test]
fn process_options_come_from_flags_and_updates() {
    let spec = create(
        "--name web --entrypoint=/bin/sh -u node -w /app --read-only --init --stop-signal SIGQUIT \
         --stop-grace-period 30s --cap-add NET_ADMIN --cap-drop NET_RAW \
         --sysctl net.core.somaxconn=1024 --ulimit nofile=1024:2048 busybox",
    )
    .unwrap();
    let c = &spec.task.container;
    assert_eq!(c.entrypoint.as_deref(), Some(&["/bin/sh".to_owned()][..]));
    assert_eq!(
        (c.user.as_deref(), c.workdir.as_deref()),
        (Some("node"), Some("/app"))
    );
    assert!(c.read_only && c.init);
    assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(c.stop_grace_period, Some(parse::span("30s").unwrap()));
    assert_eq!(
        (c.cap_add.clone(), c.cap_drop.clone()),
        (vec!["NET_ADMIN".to_owned()], vec!["NET_RAW".to_owned()])
    );
    assert_eq!(c.sysctls["net.core.somaxconn"], "1024");
    assert_eq!((c.ulimits[0].soft, c.ulimits[0].hard), (1024, 2048));
    let updated = update_spec(
        &update_flags("--cap-add net_raw --user= --read-only=false --init=false --ulimit-rm nofile --sysctl-rm net.core.somaxconn web"),
        spec,
    )
    .unwrap();
    let c = &updated.task.container;
    assert_eq!(c.cap_add, ["NET_ADMIN", "net_raw"]);
    assert!(
        c.cap_drop.is_empty(),
        "an added capability leaves the drop list"
    );
    assert_eq!(c.user, None, "an empty --user: the image's again");
    assert!(!c.read_only && !c.init && c.ulimits.is_empty() && c.sysctls.is_empty());
    assert!(
        create("--name web -w app busybox").is_err(),
        "a relative workdir"
    );
}

#[test]
fn dns_options_and_hosts_come_from_flags() {
    let spec = create(
        "--name web --dns 198.18.0.53 --dns-search example.lab --dns-option timeout:2 \
         --add-host db.lab:10.9.0.5 busybox",
    )
    .unwrap();
    let c = &spec.task.container;
    assert_eq!(
        c.dns_nameservers,
        ["198.18.0.53".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(
        (c.dns_search.clone(), c.dns_options.clone()),
        (vec!["example.lab".to_owned()], vec!["timeout:2".to_owned()])
    );
    assert_eq!(c.hosts, ["10.9.0.5 db.lab"]);
    assert!(parse::host_entry("db.lab").is_err());
    assert!(create("--name web --dns-search bad_domain busybox").is_err());
}
