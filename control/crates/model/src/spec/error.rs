//! Errors of the [`crate::spec`] module: why a spec was rejected.
//! Messages follow Docker's where Docker has one.

use super::{Protocol, PublishMode};

/// Why a service spec (or a piece of one) is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The service name breaks SwarmKit's rule for names.
    #[error(
        "invalid service name {name:?}: 1-63 letters, digits, '-' and '_', starting and ending with a letter or digit"
    )]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// No image was given.
    #[error("ContainerSpec: image reference must be provided")]
    EmptyImage,
    /// An environment entry has an empty variable name.
    #[error("invalid environment variable {entry:?}: the name is empty")]
    InvalidEnv {
        /// The entry.
        entry: String,
    },
    /// More replicas than one service may have ([`super::MAX_REPLICAS`]).
    #[error("replicas {replicas} is more than the {max} one service may have")]
    TooManyReplicas {
        /// The count given.
        replicas: u64,
        /// The limit.
        max: u64,
    },
    /// A list of the spec with more entries than allowed ([`super::SpecLimits`]).
    #[error("{field}: {count} entries, at most {max} allowed")]
    TooManyEntries {
        /// The spec field.
        field: &'static str,
        /// Entries given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A value of the spec longer than allowed ([`super::SpecLimits`]).
    #[error("{field}: a value of {len} bytes, at most {max} allowed")]
    ValueTooLong {
        /// The spec field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `--replicas` with `--mode global`.
    #[error("replicas can only be used with replicated mode")]
    ReplicasOnGlobal,
    /// `--max-replicas` with `--mode global`.
    #[error("max-replicas can only be used with replicated mode")]
    MaxReplicasOnGlobal,
    /// A mode other than `replicated` / `global`.
    #[error("invalid service mode {mode:?}: expected replicated or global")]
    UnknownMode {
        /// The mode given.
        mode: String,
    },
    /// A constraint has no (or more than one) `==` / `!=`.
    #[error("invalid constraint {constraint:?}: constraint expected one operator from ==, !=")]
    ConstraintOperator {
        /// The constraint.
        constraint: String,
    },
    /// A constraint's key is not one we know.
    #[error(
        "key '{key}' is invalid: expected node.id, node.hostname, node.role or node.labels.<name>"
    )]
    ConstraintKey {
        /// The key.
        key: String,
    },
    /// A constraint's value is empty or has characters we don't accept.
    #[error("value '{value}' is invalid")]
    ConstraintValue {
        /// The value.
        value: String,
    },
    /// A placement preference without `=`.
    #[error("missing '=' in placement preference {preference:?}")]
    PreferenceSyntax {
        /// The preference.
        preference: String,
    },
    /// A placement preference other than `spread`.
    #[error("unsupported placement preference {strategy} (only spread is supported)")]
    UnknownPreference {
        /// The strategy given.
        strategy: String,
    },
    /// A spread descriptor that is not a node label.
    #[error("invalid spread descriptor {descriptor:?}: expected node.labels.<name>")]
    SpreadDescriptor {
        /// The descriptor given.
        descriptor: String,
    },
    /// A port's target is 0.
    #[error("invalid port: target port must be between 1 and 65535, found 0")]
    ZeroTargetPort,
    /// A port could not be parsed.
    #[error(
        "invalid port {text:?}: expected [published:]target[/tcp|udp] or published=N,target=N[,protocol=tcp|udp][,mode=ingress|host]"
    )]
    PortSyntax {
        /// The text.
        text: String,
    },
    /// Two ports publish the same port and protocol.
    #[error("EndpointSpec: duplicate published ports provided: {port}/{protocol:?} ({mode:?})")]
    DuplicatePublishedPort {
        /// The port.
        port: u16,
        /// Its protocol.
        protocol: Protocol,
        /// Its mode.
        mode: PublishMode,
    },
    /// A duration could not be parsed.
    #[error("time: invalid duration {value:?}")]
    BadDuration {
        /// The text.
        value: String,
    },
    /// A health check duration below Docker's 1 ms minimum.
    #[error("{field} in Healthcheck cannot be less than 1ms")]
    HealthcheckTooShort {
        /// `Interval`, `Timeout` or `StartPeriod`.
        field: &'static str,
    },
    /// A health check without a test.
    #[error("Healthcheck: test must not be empty (use [\"NONE\"] to disable)")]
    EmptyHealthcheck,
    /// `max_failure_ratio` outside `[0, 1]`.
    #[error("{config}: max_failure_ratio must be between 0 and 1, found {ratio}")]
    FailureRatio {
        /// `UpdateConfig` or `RollbackConfig`.
        config: &'static str,
        /// The ratio given.
        ratio: String,
    },
    /// `failure_action: rollback` in a rollback config.
    #[error("RollbackConfig: failure_action rollback is not valid for a rollback")]
    RollbackOfRollback,
    /// A network listed twice.
    #[error("duplicate network attachment {network:?}")]
    DuplicateNetwork {
        /// The network.
        network: String,
    },
    /// A `--secret` that cannot be parsed.
    #[error(
        "invalid secret {text:?}: {reason} (expected NAME or source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444])"
    )]
    SecretSyntax {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A secret target outside `/run/secrets` or with `..`.
    #[error(
        "invalid secret target {target:?}: must be a relative path or one under /run/secrets, without . or .."
    )]
    SecretTarget {
        /// The target given.
        target: String,
    },
    /// A secret mode above 0777.
    #[error("invalid secret mode {mode:o}: at most 0777")]
    SecretMode {
        /// The mode given.
        mode: u32,
    },
    /// Two secrets with the same target.
    #[error("duplicate secret target /run/secrets/{target}")]
    DuplicateSecretTarget {
        /// The target.
        target: String,
    },
    /// A `--config` that cannot be parsed.
    #[error(
        "invalid config {text:?}: {reason} (expected NAME or source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444])"
    )]
    ConfigSyntax {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A config target that is `/` or has `.`, `..` or empty components.
    #[error("invalid config target {target:?}: must be a file path without . or ..")]
    ConfigTarget {
        /// The target given.
        target: String,
    },
    /// A config mode above 0777.
    #[error("invalid config mode {mode:o}: at most 0777")]
    ConfigMode {
        /// The mode given.
        mode: u32,
    },
    /// Two configs with the same target.
    #[error("duplicate config target {target}")]
    DuplicateConfigTarget {
        /// The target.
        target: String,
    },
    /// A hostname that is not a DNS name.
    #[error(
        "invalid hostname {hostname:?}: expected DNS labels of [A-Za-z0-9-], at most 63 bytes each, 253 in all"
    )]
    InvalidHostname {
        /// The hostname given.
        hostname: String,
    },
    /// A network alias that is not a DNS name.
    #[error(
        "invalid network alias {alias:?}: expected DNS labels of [A-Za-z0-9-], at most 63 bytes each, 253 in all"
    )]
    InvalidAlias {
        /// The alias given.
        alias: String,
    },
    /// Aliases given for a network the service is not attached to.
    #[error("network aliases for {network:?}, which the service is not attached to")]
    AliasNetwork {
        /// The network.
        network: String,
    },
    /// A `--security-opt` shoal does not support.
    #[error(
        "unsupported security option {option:?}: supported are seccomp=unconfined and seccomp=builtin"
    )]
    UnsupportedSecurityOpt {
        /// The option given.
        option: String,
    },
    /// A `--mount` that does not parse.
    #[error("invalid mount {text:?}: {reason}")]
    MountSyntax {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A mount that cannot be made as given.
    #[error("invalid mount config for type {kind:?}: {reason} (target {target:?})")]
    InvalidMount {
        /// bind, volume or tmpfs.
        kind: &'static str,
        /// Its target.
        target: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two mounts with the same target.
    #[error("duplicate mount point: {target}")]
    DuplicateMountTarget {
        /// The target.
        target: String,
    },
    /// A container option that cannot be honoured as given.
    #[error("invalid {option} {value:?}: {reason}")]
    ContainerOption {
        /// The option (`ulimit`, `workdir`, ...).
        option: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}
