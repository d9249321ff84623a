//! Service specs from flags: a new spec for `service create`, and the
//! changes of `service update` / `service scale` applied to a stored one.
//! Pure functions; the spec is validated before anything is sent.

use shoal_control::spec::{
    ContainerOptions, FailureAction, HealthCheck, PortConfig, SecretRef, ServiceMode, ServiceSpec,
    Span, SpecError, TaskTemplate, UpdateConfig, UpdateOrder,
};

use std::collections::BTreeMap;

use super::parse::{self, NetworkFlag, ParseError};
use super::service_flags::{CreateFlags, ModeArg, PolicyFlags, UpdateFlags};

/// Why flags could not be turned into a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// `--no-healthcheck` together with a `--health-*` flag.
    #[error("--no-healthcheck conflicts with --health-* options")]
    HealthConflict,
    /// A `--health-*` flag with no command to apply it to.
    #[error(
        "--health-interval, --health-timeout, --health-retries and --health-start-period need --health-cmd (the service has no health check)"
    )]
    HealthWithoutCmd,
    /// `--replicas` on a global service.
    #[error("{service}: replicas can only be used with replicated mode")]
    ReplicasOnGlobal {
        /// The service's name.
        service: String,
    },
    /// `service scale` of a global service (Docker's message).
    #[error("{service}: scale can only be used with replicated mode")]
    ScaleGlobal {
        /// The service's name.
        service: String,
    },
    /// A value could not be parsed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The resulting spec is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// The spec `service create` sends: `name` is `--name` or a generated
/// one; `lookup` reads this shell's environment for `-e KEY`.
pub fn create_spec(
    flags: &CreateFlags,
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ServiceSpec, FlagError> {
    let mode = match flags.mode {
        ModeArg::Replicated => "replicated",
        ModeArg::Global => "global",
    };
    let env = flags
        .env
        .iter()
        .map(|entry| parse::env_entry(entry, &lookup))
        .collect::<Result<Vec<_>, _>>()?;
    let mut spec = ServiceSpec::new(name, &flags.image);
    spec.mode = ServiceMode::from_flags(mode, flags.replicas)?;
    spec.task = TaskTemplate {
        args: flags.args.clone(),
        env,
        networks: flags.networks.iter().map(|n| n.name.clone()).collect(),
        network_aliases: aliases_of(&flags.networks),
        secrets: flags.secrets.clone(),
        configs: flags.configs.clone(),
        container_labels: parse::labels(&flags.container_labels)?,
        mounts: flags.mounts.clone(),
        ..spec.task
    };
    spec.task.container.sysctls = parse::labels(&flags.sysctls)?;
    spec.task.container.ulimits = flags.ulimits.clone();
    spec.task.container.dns_nameservers = flags.dns.clone();
    spec.task.container.dns_search = flags.dns_search.clone();
    spec.task.container.dns_options = flags.dns_options.clone();
    spec.task.container.hosts = flags.hosts.clone();
    spec.labels = parse::labels(&flags.labels)?;
    spec.task.placement.constraints = flags.constraints.clone();
    spec.task.placement.preferences = flags.placement_prefs.clone();
    spec.ports = flags.publish.clone();
    apply_policy(&flags.policy, &mut spec)?;
    spec.validate()?;
    Ok(spec)
}

/// `spec` changed as `service update` flags say.
pub fn update_spec(flags: &UpdateFlags, mut spec: ServiceSpec) -> Result<ServiceSpec, FlagError> {
    if let Some(image) = &flags.image {
        spec.task.image.clone_from(image);
    }
    if let Some(args) = &flags.args {
        spec.task.args = parse::shell_words(args)?;
    }
    if let Some(replicas) = flags.replicas {
        spec = with_replicas(spec, replicas, false)?;
    }
    let task = &mut spec.task;
    update_env(&mut task.env, &flags.env_add, &flags.env_rm);
    let added: Vec<String> = flags.network_add.iter().map(|n| n.name.clone()).collect();
    update_list(&mut task.networks, &added, &flags.network_rm);
    for network in flags.network_rm.iter().chain(&added) {
        task.network_aliases.remove(network);
    }
    task.network_aliases.extend(aliases_of(&flags.network_add));
    update_secrets(&mut task.secrets, &flags.secret_add, &flags.secret_rm);
    task.configs
        .retain(|c| !flags.config_rm.contains(&c.source));
    for config in &flags.config_add {
        task.configs.retain(|c| c.target != config.target);
        task.configs.push(config.clone());
    }
    task.mounts.retain(|m| {
        !flags.mount_rm.contains(&m.target) && !flags.mount_add.iter().any(|a| a.target == m.target)
    });
    task.mounts.extend(flags.mount_add.iter().cloned());
    update_labels(
        &mut task.container.sysctls,
        &flags.sysctl_add,
        &flags.sysctl_rm,
    )?;
    let ulimits = &mut task.container.ulimits;
    ulimits.retain(|u| {
        !flags.ulimit_rm.contains(&u.name) && !flags.ulimit_add.iter().any(|a| a.name == u.name)
    });
    ulimits.extend(flags.ulimit_add.iter().cloned());
    update_labels(
        &mut task.container_labels,
        &flags.container_label_add,
        &flags.container_label_rm,
    )?;
    let placement = &mut task.placement;
    update_list(
        &mut placement.constraints,
        &flags.constraint_add,
        &flags.constraint_rm,
    );
    update_list(
        &mut placement.preferences,
        &flags.placement_pref_add,
        &flags.placement_pref_rm,
    );
    spec.ports
        .retain(|p| !flags.publish_rm.iter().any(|rm| rm.matches(p)));
    for port in &flags.publish_add {
        spec.ports.retain(|p| !same_published(p, port));
        spec.ports.push(*port);
    }
    update_labels(&mut spec.labels, &flags.label_add, &flags.label_rm)?;
    apply_policy(&flags.policy, &mut spec)?;
    spec.validate()?;
    Ok(spec)
}

/// `--label-rm KEY` then `--label-add KEY=VALUE` (Docker's order).
fn update_labels(
    labels: &mut BTreeMap<String, String>,
    add: &[String],
    remove: &[String],
) -> Result<(), FlagError> {
    for key in remove {
        labels.remove(key);
    }
    labels.extend(parse::labels(add)?);
    Ok(())
}

/// `spec` with `replicas` tasks; refused for a global service (`scale`
/// says so with Docker's scale message).
pub fn with_replicas(
    mut spec: ServiceSpec,
    replicas: u64,
    scale: bool,
) -> Result<ServiceSpec, FlagError> {
    match spec.mode {
        ServiceMode::Replicated { .. } => {
            spec.mode = ServiceMode::Replicated { replicas };
            Ok(spec)
        }
        ServiceMode::Global if scale => Err(FlagError::ScaleGlobal { service: spec.name }),
        ServiceMode::Global => Err(FlagError::ReplicasOnGlobal { service: spec.name }),
    }
}

/// Two ports that cannot both be published: same fixed published port
/// and protocol (dynamic ones never clash, as in the spec's check).
fn same_published(a: &PortConfig, b: &PortConfig) -> bool {
    a.published != 0 && a.published == b.published && a.protocol == b.protocol
}

/// `--env-rm KEY` removes the variable; `--env-add KEY=v` replaces any
/// entry of the same variable.
fn update_env(env: &mut Vec<String>, add: &[String], remove: &[String]) {
    env.retain(|entry| {
        let key = parse::env_key(entry);
        !remove.iter().any(|rm| parse::env_key(rm) == key)
    });
    for entry in add {
        let key = parse::env_key(entry);
        env.retain(|existing| parse::env_key(existing) != key);
        env.push(entry.clone());
    }
}

/// Removes `remove`, then appends what of `add` is not there yet.
/// Removes secrets by name, then adds each new one in place of any at
/// its target.
fn update_secrets(secrets: &mut Vec<SecretRef>, add: &[SecretRef], remove: &[String]) {
    secrets.retain(|s| !remove.contains(&s.source));
    for secret in add {
        secrets.retain(|s| s.target != secret.target);
        secrets.push(secret.clone());
    }
}

/// The aliases `--network name=N,alias=A` gives, per network.
fn aliases_of(networks: &[NetworkFlag]) -> BTreeMap<String, Vec<String>> {
    networks
        .iter()
        .filter(|n| !n.aliases.is_empty())
        .map(|n| (n.name.clone(), n.aliases.clone()))
        .collect()
}

fn update_list(list: &mut Vec<String>, add: &[String], remove: &[String]) {
    list.retain(|item| !remove.contains(item));
    for item in add {
        if !list.contains(item) {
            list.push(item.clone());
        }
    }
}

/// Entrypoint, user, workdir, read-only, stop signal and grace (an empty
/// text goes back to the image's), and capabilities (an added one leaves
/// the drop list and the other way round, as Docker's update does).
fn apply_process(flags: &PolicyFlags, options: &mut ContainerOptions) -> Result<(), FlagError> {
    if let Some(entrypoint) = &flags.entrypoint {
        let words = parse::shell_words(entrypoint)?;
        options.entrypoint = (!words.is_empty()).then_some(words);
    }
    let text = |value: &Option<String>, field: &mut Option<String>| {
        if let Some(value) = value {
            *field = Some(value.clone()).filter(|v| !v.is_empty());
        }
    };
    text(&flags.user, &mut options.user);
    text(&flags.workdir, &mut options.workdir);
    text(&flags.stop_signal, &mut options.stop_signal);
    set(&mut options.read_only, flags.read_only);
    set(&mut options.init, flags.init);
    if flags.stop_grace_period.is_some() {
        options.stop_grace_period = flags.stop_grace_period;
    }
    for cap in &flags.cap_add {
        options.cap_drop.retain(|c| !c.eq_ignore_ascii_case(cap));
        if !options.cap_add.iter().any(|c| c.eq_ignore_ascii_case(cap)) {
            options.cap_add.push(cap.clone());
        }
    }
    for cap in &flags.cap_drop {
        options.cap_add.retain(|c| !c.eq_ignore_ascii_case(cap));
        if !options.cap_drop.iter().any(|c| c.eq_ignore_ascii_case(cap)) {
            options.cap_drop.push(cap.clone());
        }
    }
    Ok(())
}

/// The flags both commands share, each overriding one field.
fn apply_policy(flags: &PolicyFlags, spec: &mut ServiceSpec) -> Result<(), FlagError> {
    apply_process(flags, &mut spec.task.container)?;
    if let Some(max) = flags.replicas_max_per_node {
        spec.task.placement.max_replicas_per_node = max;
    }
    if let Some(mode) = flags.endpoint_mode {
        spec.endpoint_mode = mode.into();
    }
    if let Some(hostname) = &flags.hostname {
        // An empty --hostname goes back to the task name.
        spec.task.hostname = Some(hostname.clone()).filter(|h| !h.is_empty());
    }
    let restart = &mut spec.task.restart_policy;
    set(
        &mut restart.condition,
        flags.restart_condition.map(Into::into),
    );
    set(&mut restart.delay, flags.restart_delay);
    set(&mut restart.max_attempts, flags.restart_max_attempts);
    set(&mut restart.window, flags.restart_window);
    apply_health(flags, &mut spec.task.healthcheck)?;
    apply_update_config(&mut spec.update_config, &update_part(flags));
    apply_update_config(&mut spec.rollback_config, &rollback_part(flags));
    set(&mut spec.task.limits.nano_cpus, flags.limit_cpu);
    set(&mut spec.task.limits.memory_bytes, flags.limit_memory);
    set(&mut spec.task.resources.nano_cpus, flags.reserve_cpu);
    set(&mut spec.task.resources.memory_bytes, flags.reserve_memory);
    if let Some(pids) = flags.limit_pids {
        spec.task.pids_limit = Some(pids);
    }
    for option in &flags.security_opts {
        option.apply(&mut spec.task);
    }
    Ok(())
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// `--health-cmd` runs through the shell, as Docker's `CMD-SHELL`;
/// `--no-healthcheck` is Docker's `NONE`.
fn apply_health(flags: &PolicyFlags, check: &mut Option<HealthCheck>) -> Result<(), FlagError> {
    let tuned = flags.health_interval.is_some()
        || flags.health_timeout.is_some()
        || flags.health_retries.is_some()
        || flags.health_start_period.is_some();
    if flags.no_healthcheck {
        if tuned || flags.health_cmd.is_some() {
            return Err(FlagError::HealthConflict);
        }
        *check = Some(HealthCheck {
            cmd: vec!["NONE".to_owned()],
            ..HealthCheck::default()
        });
        return Ok(());
    }
    let existing = check
        .clone()
        .filter(|c| c.cmd.first().is_some_and(|test| test != "NONE"));
    let mut new = match (&flags.health_cmd, existing) {
        (Some(cmd), existing) => HealthCheck {
            cmd: vec!["CMD-SHELL".to_owned(), cmd.clone()],
            ..existing.unwrap_or_default()
        },
        (None, Some(existing)) if tuned => existing,
        (None, None) if tuned => return Err(FlagError::HealthWithoutCmd),
        (None, _) => return Ok(()),
    };
    set(&mut new.interval, flags.health_interval);
    set(&mut new.timeout, flags.health_timeout);
    set(&mut new.retries, flags.health_retries);
    set(&mut new.start_period, flags.health_start_period);
    *check = Some(new);
    Ok(())
}

/// The six fields of an update or rollback config, as flags give them.
struct UpdatePart {
    parallelism: Option<u64>,
    delay: Option<Span>,
    order: Option<UpdateOrder>,
    failure_action: Option<FailureAction>,
    monitor: Option<Span>,
    max_failure_ratio: Option<f64>,
}

fn update_part(flags: &PolicyFlags) -> UpdatePart {
    UpdatePart {
        parallelism: flags.update_parallelism,
        delay: flags.update_delay,
        order: flags.update_order.map(Into::into),
        failure_action: flags.update_failure_action.map(Into::into),
        monitor: flags.update_monitor,
        max_failure_ratio: flags.update_max_failure_ratio,
    }
}

fn rollback_part(flags: &PolicyFlags) -> UpdatePart {
    UpdatePart {
        parallelism: flags.rollback_parallelism,
        delay: flags.rollback_delay,
        order: flags.rollback_order.map(Into::into),
        failure_action: flags.rollback_failure_action.map(Into::into),
        monitor: flags.rollback_monitor,
        max_failure_ratio: flags.rollback_max_failure_ratio,
    }
}

fn apply_update_config(config: &mut UpdateConfig, part: &UpdatePart) {
    set(&mut config.parallelism, part.parallelism);
    set(&mut config.delay, part.delay);
    set(&mut config.order, part.order);
    set(&mut config.failure_action, part.failure_action);
    set(&mut config.monitor, part.monitor);
    set(&mut config.max_failure_ratio, part.max_failure_ratio);
}

/// A name for a service created without `--name`: the image's last path
/// component made a DNS label, and a random suffix.
pub fn generated_name(image: &str, suffix: &str) -> String {
    let base = image
        .rsplit('/')
        .next()
        .unwrap_or(image)
        .split([':', '@'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut label: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(50)
        .collect();
    label = label.trim_matches('-').to_owned();
    if label.is_empty() {
        label = "service".to_owned();
    }
    format!("{label}-{suffix}")
}

#[cfg(test)]
#[path = "service_spec_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "service_config_tests.rs"]
mod config_tests;
