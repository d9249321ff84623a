//! [`ServiceSpec::validate`] and the parsers the CLI shares with it.

use std::collections::BTreeSet;
use std::str::FromStr;

use super::{
    Constraint, HealthCheck, PortConfig, Protocol, PublishMode, SecretRef, ServiceMode,
    ServiceSpec, Span, SpecError, SpreadPreference, UpdateConfig,
};

/// The most replicas one service may have. The orchestrator creates the
/// missing tasks of a service in one pass, so a typo (`--replicas
/// 4294967296`) must not reach it: it would take the leader's memory, and
/// every next leader's. Docker's largest recorded swarm (Swarm3k) ran
/// 150,000 containers in the whole cluster.
pub const MAX_REPLICAS: u64 = 100_000;

/// Size limits of a service spec, so that one spec cannot bloat the raft
/// log, every assignment and every task row that carries a copy of it.
pub struct SpecLimits;

impl SpecLimits {
    /// Entries of each list: args, env, networks, secrets, ports,
    /// constraints, preferences.
    pub const ENTRIES: usize = 1_000;
    /// Bytes of one arg, env entry, constraint or preference.
    pub const VALUE_BYTES: usize = 32 * 1024;
    /// Bytes of the image reference.
    pub const IMAGE_BYTES: usize = 1_024;
}

impl ServiceSpec {
    /// Checks everything a store write relies on; the first problem found
    /// is returned.
    pub fn validate(&self) -> Result<(), SpecError> {
        validate_name(&self.name)?;
        self.validate_sizes()?;
        if self.task.image.trim().is_empty() {
            return Err(SpecError::EmptyImage);
        }
        if let Some(entry) = self
            .task
            .env
            .iter()
            .find(|e| e.starts_with('=') || e.is_empty())
        {
            return Err(SpecError::InvalidEnv {
                entry: entry.clone(),
            });
        }
        let placement = &self.task.placement;
        if self.mode == ServiceMode::Global && placement.max_replicas_per_node != 0 {
            return Err(SpecError::MaxReplicasOnGlobal);
        }
        Constraint::parse_all(&placement.constraints)?;
        SpreadPreference::parse_all(&placement.preferences)?;
        validate_ports(&self.ports)?;
        if let Some(check) = &self.task.healthcheck {
            validate_healthcheck(check)?;
        }
        validate_update_config("UpdateConfig", &self.update_config)?;
        validate_update_config("RollbackConfig", &self.rollback_config)?;
        if self.rollback_config.failure_action == super::FailureAction::Rollback {
            return Err(SpecError::RollbackOfRollback);
        }
        validate_secrets(&self.task.secrets)?;
        validate_configs(&self.task.configs)?;
        validate_mounts(&self.task.mounts)?;
        self.task.container.validate()?;
        let mut seen = BTreeSet::new();
        if let Some(network) = self.task.networks.iter().find(|n| !seen.insert(*n)) {
            return Err(SpecError::DuplicateNetwork {
                network: network.clone(),
            });
        }
        self.validate_names()
    }

    /// Checks the hostname and the network aliases: DNS names, aliases
    /// only for networks the service is on.
    fn validate_names(&self) -> Result<(), SpecError> {
        if let Some(hostname) = self.task.hostname.as_deref()
            && !is_dns_name(hostname)
        {
            return Err(SpecError::InvalidHostname {
                hostname: hostname.to_owned(),
            });
        }
        check_count("network aliases", self.task.network_aliases.len())?;
        for (network, aliases) in &self.task.network_aliases {
            if !self.task.networks.contains(network) {
                return Err(SpecError::AliasNetwork {
                    network: network.clone(),
                });
            }
            check_count("network aliases", aliases.len())?;
            if let Some(alias) = aliases.iter().find(|a| !is_dns_name(a)) {
                return Err(SpecError::InvalidAlias {
                    alias: alias.clone(),
                });
            }
        }
        Ok(())
    }
}

/// A DNS name: dot-separated labels of letters, digits and inner hyphens,
/// 1..=63 bytes each, at most 253 in all.
pub fn is_dns_name(name: &str) -> bool {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok)
}

impl ServiceSpec {
    /// Checks the replica count and the sizes of [`SpecLimits`].
    fn validate_sizes(&self) -> Result<(), SpecError> {
        if let ServiceMode::Replicated { replicas } = self.mode
            && replicas > MAX_REPLICAS
        {
            return Err(SpecError::TooManyReplicas {
                replicas,
                max: MAX_REPLICAS,
            });
        }
        check_len("image", &self.task.image, SpecLimits::IMAGE_BYTES)?;
        let task = &self.task;
        let placement = &task.placement;
        let container = &task.container;
        let lists: [(&'static str, &[String]); 8] = [
            ("args", &task.args),
            ("env", &task.env),
            ("networks", &task.networks),
            ("placement constraints", &placement.constraints),
            ("placement preferences", &placement.preferences),
            (
                "entrypoint",
                container.entrypoint.as_deref().unwrap_or_default(),
            ),
            ("cap-add", &container.cap_add),
            ("cap-drop", &container.cap_drop),
        ];
        for (field, list) in lists {
            check_count(field, list.len())?;
            for value in list {
                check_len(field, value, SpecLimits::VALUE_BYTES)?;
            }
        }
        check_count("ulimits", container.ulimits.len())?;
        for (field, labels) in [
            ("labels", &self.labels),
            ("container labels", &task.container_labels),
            ("sysctls", &container.sysctls),
        ] {
            check_count(field, labels.len())?;
            for (key, value) in labels {
                check_len(field, key, SpecLimits::VALUE_BYTES)?;
                check_len(field, value, SpecLimits::VALUE_BYTES)?;
            }
        }
        check_count("secrets", task.secrets.len())?;
        for secret in &task.secrets {
            check_len("secrets", &secret.source, SpecLimits::VALUE_BYTES)?;
            check_len("secrets", &secret.target, SpecLimits::VALUE_BYTES)?;
        }
        check_count("configs", task.configs.len())?;
        for config in &task.configs {
            check_len("configs", &config.source, SpecLimits::VALUE_BYTES)?;
            check_len("configs", &config.target, SpecLimits::VALUE_BYTES)?;
        }
        check_count("ports", self.ports.len())
    }
}

/// Each config on its own, and no two at one target.
fn validate_configs(configs: &[super::ConfigRef]) -> Result<(), SpecError> {
    let mut targets = BTreeSet::new();
    for config in configs {
        config.validate()?;
        if !targets.insert(&config.target) {
            return Err(SpecError::DuplicateConfigTarget {
                target: config.target.clone(),
            });
        }
    }
    Ok(())
}

/// Each secret on its own, and no two at one target.
fn validate_secrets(secrets: &[SecretRef]) -> Result<(), SpecError> {
    let mut targets = BTreeSet::new();
    for secret in secrets {
        secret.validate()?;
        if !targets.insert(&secret.target) {
            return Err(SpecError::DuplicateSecretTarget {
                target: secret.target.clone(),
            });
        }
    }
    Ok(())
}

fn validate_mounts(mounts: &[super::Mount]) -> Result<(), SpecError> {
    check_count("mounts", mounts.len())?;
    let mut targets = BTreeSet::new();
    for mount in mounts {
        check_len("mounts", &mount.source, SpecLimits::VALUE_BYTES)?;
        check_len("mounts", &mount.target, SpecLimits::VALUE_BYTES)?;
        mount.validate()?;
        if !targets.insert(&mount.target) {
            return Err(SpecError::DuplicateMountTarget {
                target: mount.target.clone(),
            });
        }
    }
    Ok(())
}

fn check_count(field: &'static str, count: usize) -> Result<(), SpecError> {
    if count > SpecLimits::ENTRIES {
        return Err(SpecError::TooManyEntries {
            field,
            count,
            max: SpecLimits::ENTRIES,
        });
    }
    Ok(())
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), SpecError> {
    if value.len() > max {
        return Err(SpecError::ValueTooLong {
            field,
            len: value.len(),
            max,
        });
    }
    Ok(())
}

/// SwarmKit's rule for service names: 1-63 letters, digits, `-` and `_`,
/// starting and ending with a letter or digit (`app_web`, a stack's
/// service, is one; the embedded DNS answers it case-insensitively).
fn validate_name(name: &str) -> Result<(), SpecError> {
    let edge = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    let valid = name.len() <= 63
        && edge(name.as_bytes().first())
        && edge(name.as_bytes().last())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(SpecError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// Checks targets and that no published port (with its protocol) appears
/// twice; dynamic (0) published ports never clash.
pub(super) fn validate_ports(ports: &[PortConfig]) -> Result<(), SpecError> {
    let mut seen = BTreeSet::new();
    for port in ports {
        if port.target == 0 {
            return Err(SpecError::ZeroTargetPort);
        }
        if port.published != 0 && !seen.insert((port.published, port.protocol)) {
            return Err(SpecError::DuplicatePublishedPort {
                port: port.published,
                protocol: port.protocol,
                mode: port.mode,
            });
        }
    }
    Ok(())
}

fn validate_healthcheck(check: &HealthCheck) -> Result<(), SpecError> {
    if check.cmd.is_empty() {
        return Err(SpecError::EmptyHealthcheck);
    }
    let fields = [
        ("Interval", check.interval),
        ("Timeout", check.timeout),
        ("StartPeriod", check.start_period),
    ];
    for (field, span) in fields {
        if !span.is_zero() && span < Span::from_millis(1) {
            return Err(SpecError::HealthcheckTooShort { field });
        }
    }
    Ok(())
}

fn validate_update_config(config: &'static str, update: &UpdateConfig) -> Result<(), SpecError> {
    let ratio = update.max_failure_ratio;
    if !(0.0..=1.0).contains(&ratio) {
        return Err(SpecError::FailureRatio {
            config,
            ratio: ratio.to_string(),
        });
    }
    Ok(())
}

impl ServiceMode {
    /// The mode from CLI flags: `--mode replicated|global` and
    /// `--replicas N` (default 1 for replicated).
    pub fn from_flags(mode: &str, replicas: Option<u64>) -> Result<ServiceMode, SpecError> {
        match (mode, replicas) {
            ("replicated", replicas) => Ok(ServiceMode::Replicated {
                replicas: replicas.unwrap_or(1),
            }),
            ("global", None) => Ok(ServiceMode::Global),
            ("global", Some(_)) => Err(SpecError::ReplicasOnGlobal),
            (other, _) => Err(SpecError::UnknownMode {
                mode: other.to_owned(),
            }),
        }
    }
}

impl FromStr for PortConfig {
    type Err = SpecError;

    /// Parses `-p` syntax: short `[published:]target[/proto]` or long
    /// `published=8080,target=80,protocol=udp,mode=host`.
    fn from_str(text: &str) -> Result<PortConfig, SpecError> {
        let bad = || SpecError::PortSyntax {
            text: text.to_owned(),
        };
        let port = if text.contains('=') {
            parse_long_port(text).ok_or_else(bad)?
        } else {
            parse_short_port(text).ok_or_else(bad)?
        };
        if port.target == 0 {
            return Err(SpecError::ZeroTargetPort);
        }
        Ok(port)
    }
}

fn parse_short_port(text: &str) -> Option<PortConfig> {
    let (ports, protocol) = match text.split_once('/') {
        Some((ports, protocol)) => (ports, parse_protocol(protocol)?),
        None => (text, Protocol::Tcp),
    };
    let (published, target) = match ports.split_once(':') {
        Some((published, target)) => (published.parse().ok()?, target.parse().ok()?),
        None => (0, ports.parse().ok()?),
    };
    Some(PortConfig {
        published,
        target,
        protocol,
        mode: PublishMode::Ingress,
    })
}

fn parse_long_port(text: &str) -> Option<PortConfig> {
    let mut port = PortConfig {
        published: 0,
        target: 0,
        protocol: Protocol::Tcp,
        mode: PublishMode::Ingress,
    };
    for field in text.split(',') {
        let (key, value) = field.split_once('=')?;
        match key.trim() {
            "published" => port.published = value.parse().ok()?,
            "target" => port.target = value.parse().ok()?,
            "protocol" => port.protocol = parse_protocol(value)?,
            "mode" => {
                port.mode = match value {
                    "ingress" => PublishMode::Ingress,
                    "host" => PublishMode::Host,
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    Some(port)
}

fn parse_protocol(text: &str) -> Option<Protocol> {
    match text {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        _ => None,
    }
}
