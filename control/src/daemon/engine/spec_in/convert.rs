//! The parts of a Docker spec with a shoal counterpart of their own:
//! secrets, health checks, restart and update policies, the endpoint.

use shoal_model::spec::{
    ConfigRef, ContainerOptions, DEFAULT_CONFIG_MODE, EndpointMode, FailureAction, HealthCheck,
    PortConfig, Protocol, PublishMode, RestartCondition, RestartPolicy, SecretRef, Ulimit,
    UpdateConfig, UpdateOrder, config_target,
};

use super::{
    DockerConfigRef, DockerContainer, DockerEndpointSpec, DockerHealth, DockerRestart,
    DockerSecret, DockerUpdate, SpecInError, refuse_rest, span,
};

pub(super) fn secret(s: DockerSecret) -> Result<SecretRef, SpecInError> {
    refuse_rest("TaskTemplate.ContainerSpec.Secrets", &s.rest)?;
    let id = |text: &str, field| {
        if text.is_empty() {
            Ok(0)
        } else {
            text.parse().map_err(|_| SpecInError::BadValue {
                field,
                value: text.to_owned(),
            })
        }
    };
    let name = if s.secret_name.is_empty() {
        s.secret_id
    } else {
        s.secret_name
    };
    Ok(SecretRef {
        target: if s.file.name.is_empty() {
            name.clone()
        } else {
            s.file.name
        },
        source: name,
        uid: id(&s.file.uid, "TaskTemplate.ContainerSpec.Secrets.File.UID")?,
        gid: id(&s.file.gid, "TaskTemplate.ContainerSpec.Secrets.File.GID")?,
        mode: if s.file.mode == 0 {
            shoal_model::spec::DEFAULT_SECRET_MODE
        } else {
            s.file.mode
        },
    })
}

pub(super) fn config(c: DockerConfigRef) -> Result<ConfigRef, SpecInError> {
    refuse_rest("TaskTemplate.ContainerSpec.Configs", &c.rest)?;
    // A reference without File is Windows' credential spec (`Runtime`).
    let file = c.file.ok_or_else(|| SpecInError::Unsupported {
        field: "TaskTemplate.ContainerSpec.Configs.Runtime".to_owned(),
    })?;
    let name = if c.config_name.is_empty() {
        c.config_id
    } else {
        c.config_name
    };
    Ok(ConfigRef {
        target: if file.name.is_empty() {
            format!("/{name}")
        } else {
            config_target(&file.name)
        },
        source: name,
        uid: owner_id(&file.uid, "TaskTemplate.ContainerSpec.Configs.File.UID")?,
        gid: owner_id(&file.gid, "TaskTemplate.ContainerSpec.Configs.File.GID")?,
        mode: if file.mode == 0 {
            DEFAULT_CONFIG_MODE
        } else {
            file.mode
        },
    })
}

/// A numeric owner as Docker sends it (a string, empty for root).
fn owner_id(text: &str, field: &'static str) -> Result<u32, SpecInError> {
    if text.is_empty() {
        return Ok(0);
    }
    text.parse().map_err(|_| SpecInError::BadValue {
        field,
        value: text.to_owned(),
    })
}

pub(super) fn health(h: DockerHealth) -> Result<HealthCheck, SpecInError> {
    refuse_rest("TaskTemplate.ContainerSpec.Healthcheck", &h.rest)?;
    Ok(HealthCheck {
        cmd: h.test,
        interval: span(h.interval),
        timeout: span(h.timeout),
        retries: h.retries,
        start_period: span(h.start_period),
    })
}

pub(super) fn restart(r: Option<DockerRestart>) -> Result<RestartPolicy, SpecInError> {
    let Some(r) = r else {
        return Ok(RestartPolicy::default());
    };
    let condition = match r.condition.as_str() {
        "" | "any" => RestartCondition::Any,
        "on-failure" => RestartCondition::OnFailure,
        "none" => RestartCondition::None,
        other => {
            return Err(SpecInError::BadValue {
                field: "TaskTemplate.RestartPolicy.Condition",
                value: other.to_owned(),
            });
        }
    };
    Ok(RestartPolicy {
        condition,
        delay: r.delay.map_or(RestartPolicy::default().delay, span),
        max_attempts: r.max_attempts,
        window: span(r.window),
    })
}

pub(super) fn update(
    u: Option<DockerUpdate>,
    field: &'static str,
) -> Result<UpdateConfig, SpecInError> {
    let Some(u) = u else {
        return Ok(UpdateConfig::default());
    };
    let bad = |value: &str| SpecInError::BadValue {
        field,
        value: value.to_owned(),
    };
    Ok(UpdateConfig {
        parallelism: u.parallelism,
        delay: span(u.delay),
        order: match u.order.as_str() {
            "" | "stop-first" => UpdateOrder::StopFirst,
            "start-first" => UpdateOrder::StartFirst,
            other => return Err(bad(other)),
        },
        failure_action: match u.failure_action.as_str() {
            "" | "pause" => FailureAction::Pause,
            "continue" => FailureAction::Continue,
            "rollback" => FailureAction::Rollback,
            other => return Err(bad(other)),
        },
        monitor: if u.monitor == 0 {
            UpdateConfig::default().monitor
        } else {
            span(u.monitor)
        },
        max_failure_ratio: u.max_failure_ratio,
    })
}

pub(super) fn endpoint(
    e: DockerEndpointSpec,
) -> Result<(Vec<PortConfig>, EndpointMode), SpecInError> {
    let mode = match e.mode.as_str() {
        "" | "vip" => EndpointMode::Vip,
        "dnsrr" => EndpointMode::Dnsrr,
        other => {
            return Err(SpecInError::BadValue {
                field: "EndpointSpec.Mode",
                value: other.to_owned(),
            });
        }
    };
    let mut ports = Vec::new();
    for p in e.ports {
        refuse_rest("EndpointSpec.Ports", &p.rest)?;
        let bad = |field, value: &str| SpecInError::BadValue {
            field,
            value: value.to_owned(),
        };
        ports.push(PortConfig {
            published: p.published_port,
            target: p.target_port,
            protocol: match p.protocol.as_str() {
                "" | "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                other => return Err(bad("EndpointSpec.Ports.Protocol", other)),
            },
            mode: match p.publish_mode.as_str() {
                "" | "ingress" => PublishMode::Ingress,
                "host" => PublishMode::Host,
                other => return Err(bad("EndpointSpec.Ports.PublishMode", other)),
            },
        });
    }
    Ok((ports, mode))
}

/// The container process's options (Command is Docker's entrypoint).
pub(super) fn process_options(c: &mut DockerContainer) -> Result<ContainerOptions, SpecInError> {
    let text = |t: &str| (!t.is_empty()).then(|| t.to_owned());
    let ulimits = c
        .ulimits
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|u| {
            let limit = |n: i64| {
                u64::try_from(n).map_err(|_| SpecInError::BadValue {
                    field: "TaskTemplate.ContainerSpec.Ulimits",
                    value: n.to_string(),
                })
            };
            Ok(Ulimit {
                name: u.name,
                soft: limit(u.soft)?,
                hard: limit(u.hard)?,
            })
        })
        .collect::<Result<_, SpecInError>>()?;
    let dns = c.dns_config.take().unwrap_or_default();
    let dns_nameservers = dns
        .nameservers
        .unwrap_or_default()
        .iter()
        .map(|ip| {
            ip.parse().map_err(|_| SpecInError::BadValue {
                field: "TaskTemplate.ContainerSpec.DNSConfig.Nameservers",
                value: ip.clone(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(ContainerOptions {
        entrypoint: (!c.command.is_empty()).then(|| std::mem::take(&mut c.command)),
        user: text(&c.user),
        workdir: text(&c.dir),
        read_only: c.read_only,
        init: c.init.unwrap_or(false),
        stop_signal: text(&c.stop_signal),
        stop_grace_period: c.stop_grace_period.filter(|n| *n > 0).map(span),
        cap_add: c.capability_add.take().unwrap_or_default(),
        cap_drop: c.capability_drop.take().unwrap_or_default(),
        sysctls: c.sysctls.take().unwrap_or_default(),
        ulimits,
        dns_nameservers,
        dns_search: dns.search.unwrap_or_default(),
        dns_options: dns.options.unwrap_or_default(),
        hosts: c.hosts.take().unwrap_or_default(),
    })
}
