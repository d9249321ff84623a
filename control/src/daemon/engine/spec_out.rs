//! shoal's [`ServiceSpec`] as a Docker `ServiceSpec`: everything shoal
//! keeps, so a client that reads a spec, changes one field and sends it
//! back (`docker service scale`, `update`) changes only that field —
//! [`super::spec_in`] reads exactly these fields back.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use shoal_model::spec::{
    ContainerOptions, EndpointMode, FailureAction, PortConfig, Protocol, PublishMode,
    RestartCondition, ServiceMode, ServiceSpec, Span, UpdateConfig, UpdateOrder,
};

/// Docker's spec of a service.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerSpecOut {
    name: String,
    labels: BTreeMap<String, String>,
    task_template: Value,
    mode: Value,
    update_config: Value,
    rollback_config: Value,
    endpoint_spec: Value,
}

fn nanos(span: Span) -> u64 {
    u64::try_from(span.0.as_nanos()).unwrap_or(u64::MAX)
}

/// A published port in Docker's shape.
pub(crate) fn port(p: &PortConfig) -> Value {
    json!({
        "Protocol": match p.protocol { Protocol::Tcp => "tcp", Protocol::Udp => "udp" },
        "TargetPort": p.target,
        "PublishedPort": p.published,
        "PublishMode": match p.mode { PublishMode::Ingress => "ingress", PublishMode::Host => "host" },
    })
}

/// The endpoint mode's word.
pub(crate) fn endpoint_mode(mode: EndpointMode) -> &'static str {
    match mode {
        EndpointMode::Vip => "vip",
        EndpointMode::Dnsrr => "dnsrr",
    }
}

fn update(u: &UpdateConfig) -> Value {
    json!({
        "Parallelism": u.parallelism,
        "Delay": nanos(u.delay),
        "FailureAction": match u.failure_action {
            FailureAction::Pause => "pause",
            FailureAction::Continue => "continue",
            FailureAction::Rollback => "rollback",
        },
        "Monitor": nanos(u.monitor),
        "MaxFailureRatio": u.max_failure_ratio,
        "Order": match u.order { UpdateOrder::StopFirst => "stop-first", UpdateOrder::StartFirst => "start-first" },
    })
}

fn container(spec: &ServiceSpec) -> Value {
    let t = &spec.task;
    let secrets: Vec<Value> = t
        .secrets
        .iter()
        .map(|s| {
            json!({
                "File": {"Name": s.target, "UID": s.uid.to_string(), "GID": s.gid.to_string(), "Mode": s.mode},
                "SecretName": s.source,
            })
        })
        .collect();
    let configs: Vec<Value> = t
        .configs
        .iter()
        .map(|c| {
            json!({
                "File": {"Name": c.target, "UID": c.uid.to_string(), "GID": c.gid.to_string(), "Mode": c.mode},
                "ConfigName": c.source,
            })
        })
        .collect();
    let mut c = json!({
        "Image": t.image, "Args": t.args, "Env": t.env, "Secrets": secrets, "Configs": configs,
        "Labels": t.container_labels,
        "Mounts": t.mounts.iter().map(super::spec_in::docker_mount).collect::<Vec<_>>(),
    });
    if let Some(hostname) = &t.hostname {
        c["Hostname"] = json!(hostname);
    }
    process_options(&t.container, &mut c);
    if let Some(h) = &t.healthcheck {
        c["Healthcheck"] = json!({
            "Test": h.cmd,
            "Interval": nanos(h.interval),
            "Timeout": nanos(h.timeout),
            "Retries": h.retries,
            "StartPeriod": nanos(h.start_period),
        });
    }
    c
}

/// Entrypoint (Docker's `Command`), user, dir, read-only, stop signal and
/// grace, capabilities, sysctls, ulimits — each only when set.
fn process_options(o: &ContainerOptions, c: &mut Value) {
    let mut set = |key: &str, value: Value| {
        c[key] = value;
    };
    if let Some(entrypoint) = &o.entrypoint {
        set("Command", json!(entrypoint));
    }
    for (key, value) in [
        ("User", &o.user),
        ("Dir", &o.workdir),
        ("StopSignal", &o.stop_signal),
    ] {
        if let Some(value) = value {
            set(key, json!(value));
        }
    }
    if o.read_only {
        set("ReadOnly", json!(true));
    }
    if o.init {
        set("Init", json!(true));
    }
    if let Some(grace) = o.stop_grace_period {
        set("StopGracePeriod", json!(nanos(grace)));
    }
    if !o.cap_add.is_empty() {
        set("CapabilityAdd", json!(o.cap_add));
    }
    if !o.cap_drop.is_empty() {
        set("CapabilityDrop", json!(o.cap_drop));
    }
    if !o.sysctls.is_empty() {
        set("Sysctls", json!(o.sysctls));
    }
    if !(o.dns_nameservers.is_empty() && o.dns_search.is_empty() && o.dns_options.is_empty()) {
        set(
            "DNSConfig",
            json!({"Nameservers": o.dns_nameservers, "Search": o.dns_search, "Options": o.dns_options}),
        );
    }
    if !o.hosts.is_empty() {
        set("Hosts", json!(o.hosts));
    }
    if !o.ulimits.is_empty() {
        let ulimits: Vec<Value> = o
            .ulimits
            .iter()
            .map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard}))
            .collect();
        set("Ulimits", json!(ulimits));
    }
}

fn task_template(spec: &ServiceSpec, network_id: &impl Fn(&str) -> String) -> Value {
    let t = &spec.task;
    let r = &t.restart_policy;
    let preferences: Vec<Value> = t
        .placement
        .preferences
        .iter()
        .map(|p| json!({"Spread": {"SpreadDescriptor": p.strip_prefix("spread=").unwrap_or(p)}}))
        .collect();
    let networks: Vec<Value> = t
        .networks
        .iter()
        .map(|n| {
            let aliases = t.network_aliases.get(n).cloned().unwrap_or_default();
            json!({"Target": network_id(n), "Aliases": aliases})
        })
        .collect();
    json!({
        "ContainerSpec": container(spec),
        "Resources": {
            "Limits": {"NanoCPUs": t.limits.nano_cpus, "MemoryBytes": t.limits.memory_bytes, "Pids": t.pids_limit.unwrap_or(0)},
            "Reservations": {"NanoCPUs": t.resources.nano_cpus, "MemoryBytes": t.resources.memory_bytes},
        },
        "RestartPolicy": {
            "Condition": match r.condition {
                RestartCondition::Any => "any",
                RestartCondition::OnFailure => "on-failure",
                RestartCondition::None => "none",
            },
            "Delay": nanos(r.delay),
            "MaxAttempts": r.max_attempts,
            "Window": nanos(r.window),
        },
        "Placement": {
            "Constraints": t.placement.constraints,
            "Preferences": preferences,
            "MaxReplicas": t.placement.max_replicas_per_node,
        },
        "Networks": networks,
        "ForceUpdate": t.force_update,
    })
}

/// `spec` in Docker's shape; `network_id` names a network by its ID.
pub(crate) fn docker_spec(
    spec: &ServiceSpec,
    network_id: impl Fn(&str) -> String,
) -> DockerSpecOut {
    DockerSpecOut {
        name: spec.name.clone(),
        labels: spec.labels.clone(),
        task_template: task_template(spec, &network_id),
        mode: match spec.mode {
            ServiceMode::Replicated { replicas } => json!({"Replicated": {"Replicas": replicas}}),
            ServiceMode::Global => json!({"Global": {}}),
        },
        update_config: update(&spec.update_config),
        rollback_config: update(&spec.rollback_config),
        endpoint_spec: json!({
            "Mode": endpoint_mode(spec.endpoint_mode),
            "Ports": spec.ports.iter().map(port).collect::<Vec<_>>(),
        }),
    }
}
