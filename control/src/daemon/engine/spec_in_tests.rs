//! Tests of [`super::spec_in`]: what Docker's CLI sends, round trips
//! through [`super::spec_out`], and refusals.

use super::spec_in::*;
use super::spec_out::docker_spec;
use shoal_model::spec::{
    FailureAction, RestartCondition, RestartPolicy, ServiceMode, ServiceSpec, UpdateOrder,
};

fn translate(body: &str) -> Result<ServiceSpec, SpecInError> {
    decode(body.as_bytes())?.into_spec(|target| (target == "n1d").then(|| "front".to_owned()))
}

#[test]
fn what_docker_sends_for_a_create_translates() {
    // The shape Docker's CLI sends, zero values and defaults included.
    let body = r#"{"Name":"web","Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"web:1",
        "Args":["httpd","-f"],"Init":false,"StopGracePeriod":0,"DNSConfig":{},"Isolation":"default",
        "Secrets":[{"File":{"Name":"pw","UID":"0","GID":"0","Mode":292},"SecretID":"s1","SecretName":"pw"}]},
        "Resources":{"Limits":{"MemoryBytes":67108864,"Pids":100},"Reservations":{}},
        "RestartPolicy":{"Condition":"on-failure","MaxAttempts":3},
        "Placement":{"Constraints":["node.role==worker"],"Preferences":[{"Spread":{"SpreadDescriptor":"node.labels.zone"}}]},
        "Networks":[{"Target":"n1d","Aliases":["www"]}],"ForceUpdate":0,"Runtime":""},
        "Mode":{"Replicated":{"Replicas":3}},
        "UpdateConfig":{"Parallelism":2,"FailureAction":"rollback","Monitor":5000000000,"MaxFailureRatio":0,"Order":"start-first"},
        "EndpointSpec":{"Mode":"vip","Ports":[{"Protocol":"tcp","TargetPort":80,"PublishedPort":8080,"PublishMode":"ingress"}]}}"#;
    let spec = translate(body).expect("translates");
    assert_eq!(spec.name, "web");
    assert_eq!(spec.mode, ServiceMode::Replicated { replicas: 3 });
    assert_eq!(spec.task.args, ["httpd", "-f"]);
    assert_eq!(spec.task.networks, ["front"], "network IDs become names");
    assert_eq!(spec.task.limits.memory_bytes, 64 << 20);
    assert_eq!(spec.task.pids_limit, Some(100));
    assert_eq!(
        spec.task.restart_policy.condition,
        RestartCondition::OnFailure
    );
    assert_eq!(
        spec.task.restart_policy.delay,
        RestartPolicy::default().delay,
        "absent: default"
    );
    assert_eq!(spec.task.placement.preferences, ["spread=node.labels.zone"]);
    assert_eq!(spec.task.secrets[0].mode, 0o444);
    assert_eq!(spec.update_config.order, UpdateOrder::StartFirst);
    assert_eq!(spec.update_config.failure_action, FailureAction::Rollback);
    assert_eq!(spec.ports[0].published, 8080);
}

#[test]
fn a_spec_read_and_written_back_is_unchanged() {
    let body = r#"{"Name":"web","Labels":{"com.docker.stack.namespace":"app"},
        "TaskTemplate":{"ContainerSpec":{"Image":"web:1","Env":["A=1"],"Hostname":"api-1","Labels":{"tier":"front"},
        "Command":["/bin/sh","-c"],"User":"node","Dir":"/app","ReadOnly":true,"Init":true,"StopSignal":"SIGQUIT",
        "StopGracePeriod":30000000000,"CapabilityAdd":["CAP_NET_ADMIN"],"CapabilityDrop":["CAP_NET_RAW"],
        "Sysctls":{"net.core.somaxconn":"1024"},"DNSConfig":{"Nameservers":["198.18.0.53"],"Search":["lab"],"Options":["timeout:2"]},
        "Hosts":["10.9.0.5 db.lab"],"Ulimits":[{"Name":"nofile","Soft":1024,"Hard":2048}],
        "Mounts":[{"Type":"volume","Source":"app_data","Target":"/data","Consistency":"default",
          "VolumeOptions":{"NoCopy":false,"Labels":{"com.docker.stack.namespace":"app"},"DriverConfig":null}},
          {"Type":"tmpfs","Target":"/cache","TmpfsOptions":{"SizeBytes":1048576,"Mode":448}}],
        "Healthcheck":{"Test":["CMD","true"],"Interval":2000000000,"Retries":2}},
        "RestartPolicy":{"Condition":"none","Delay":1000000000,"Window":60000000000},
        "Resources":{"Reservations":{"NanoCPUs":500000000}},"Networks":[{"Target":"n1d","Aliases":["api"]}],"ForceUpdate":2},
        "Mode":{"Global":{}},"EndpointSpec":{"Mode":"dnsrr"}}"#;
    let spec = translate(body).expect("translates");
    assert_eq!(spec.labels["com.docker.stack.namespace"], "app");
    assert_eq!(spec.task.container_labels["tier"], "front");
    assert_eq!(spec.task.mounts[0].source, "app_data");
    assert_eq!(spec.task.container.user.as_deref(), Some("node"));
    assert!(spec.task.container.init);
    assert_eq!(spec.task.container.ulimits[0].hard, 2048);
    assert_eq!(spec.task.container.dns_search, ["lab"]);
    assert_eq!(spec.task.container.hosts, ["10.9.0.5 db.lab"]);
    assert_eq!(spec.task.mounts[1].tmpfs_mode, Some(0o700));
    let out = serde_json::to_string(&docker_spec(&spec, |_| "n1d".to_owned())).expect("json");
    assert_eq!(translate(&out), Ok(spec));
}

#[test]
fn unsupported_fields_with_values_are_named() {
    let refused = |body: &str| translate(body).expect_err("refused").to_string();
    assert_eq!(
        refused(
            r#"{"Name":"x","TaskTemplate":{"ContainerSpec":{"Image":"i","Mounts":[{"Type":"volume","Source":"v","Target":"/v","VolumeOptions":{"DriverConfig":{"Name":"nfs"}}}]}}}"#
        ),
        "TaskTemplate.ContainerSpec.Mounts.VolumeOptions.DriverConfig.Name is not supported by shoal"
    );
    assert_eq!(
        refused(
            r#"{"Name":"x","TaskTemplate":{"ContainerSpec":{"Image":"i","Isolation":"hyperv"}}}"#
        ),
        "TaskTemplate.ContainerSpec.Isolation is not supported by shoal"
    );
    assert_eq!(
        refused(r#"{"Name":"x","Mode":{"ReplicatedJob":{}}}"#),
        "Mode.ReplicatedJob is not supported by shoal"
    );
    assert_eq!(
        refused(r#"{"Name":"x","EndpointSpec":{"Ports":[{"TargetPort":80,"Protocol":"sctp"}]}}"#),
        "EndpointSpec.Ports.Protocol: unsupported value \"sctp\""
    );
    assert!(refused("[1]").starts_with("invalid service spec"));
}

#[test]
fn configs_translate_both_ways_and_a_runtime_reference_is_refused() {
    // `docker service create --config src=site,target=/etc/site.conf,mode=0440 --config plain`.
    let body = r#"{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"web:1",
        "Configs":[{"File":{"Name":"/etc/site.conf","UID":"101","GID":"0","Mode":288},"ConfigID":"c1","ConfigName":"site"},
                   {"File":{"Name":"plain","UID":"0","GID":"0","Mode":0},"ConfigID":"c2","ConfigName":"plain"}]}}}"#;
    let spec = translate(body).expect("translates");
    let configs: Vec<_> = spec
        .task
        .configs
        .iter()
        .map(|c| (c.source.as_str(), c.target.as_str(), c.uid, c.mode))
        .collect();
    assert_eq!(
        configs,
        [
            ("site", "/etc/site.conf", 101, 0o440),
            ("plain", "/plain", 0, 0o444)
        ],
        "a relative target is from /, mode 0 the default"
    );
    let out = serde_json::to_string(&docker_spec(&spec, |_| "n1d".to_owned())).expect("json");
    assert!(out.contains(r#""ConfigName":"site""#), "{out}");
    assert_eq!(translate(&out), Ok(spec));

    let runtime = r#"{"Name":"x","TaskTemplate":{"ContainerSpec":{"Image":"i",
        "Configs":[{"Runtime":{},"ConfigID":"c1","ConfigName":"cred"}]}}}"#;
    assert_eq!(
        translate(runtime).expect_err("refused").to_string(),
        "TaskTemplate.ContainerSpec.Configs.Runtime is not supported by shoal"
    );
}
