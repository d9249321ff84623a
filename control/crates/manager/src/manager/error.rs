//! Errors of the [`crate::manager`] module: API refusals (each with the
//! HTTP status it is answered with) and failures of a manager pass.

use crate::allocator::AllocatorError;
use crate::orchestrator::OrchestratorError;
use shoal_model::spec::{Protocol, SpecError};
use shoal_raft::StoreError;

/// Everything the manager refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// No object of that kind matches the reference.
    #[error("{kind} {query} not found")]
    NotFound {
        /// `service`, `network`, `secret`.
        kind: &'static str,
        /// The ID, prefix or name given.
        query: String,
    },
    /// A prefix matching several objects.
    #[error("{kind} {query} is ambiguous ({matches} matches found)")]
    Ambiguous {
        /// `service`, `network`, `secret`.
        kind: &'static str,
        /// The prefix given.
        query: String,
        /// How many objects it matches.
        matches: usize,
    },
    /// The service spec is invalid.
    #[error("invalid service spec")]
    InvalidSpec {
        /// What is wrong.
        #[source]
        source: SpecError,
    },
    /// A name that is not acceptable for the kind of object.
    #[error("invalid {kind} name {name:?}: {rule}")]
    InvalidName {
        /// `network`, `secret`.
        kind: &'static str,
        /// The name given.
        name: String,
        /// What a name must look like.
        rule: &'static str,
    },
    /// Another object of the kind has the name.
    #[error("{kind} with name {name} already exists")]
    NameInUse {
        /// `service`, `network`, `secret`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A service spec names a network that does not exist.
    #[error("network {name} not found: create it with \"shoal network create\" first")]
    UnknownNetwork {
        /// The network named.
        name: String,
    },
    /// A service spec names a secret that does not exist.
    #[error("secret {name} not found: create it with \"shoal secret create\" first")]
    UnknownSecret {
        /// The secret named.
        name: String,
    },
    /// A service spec names a config that does not exist.
    #[error("config {name} not found: create it with \"shoal config create\" first")]
    UnknownConfig {
        /// The config named.
        name: String,
    },
    /// A service asks for the ingress network by name.
    #[error(
        "service cannot be explicitly attached to the ingress network {name:?}: publish a port instead"
    )]
    IngressAttachment {
        /// The network named.
        name: String,
    },
    /// A published ingress port held by another service.
    #[error(
        "port '{port}/{protocol:?}' is already in use by service '{service}' as an ingress port"
    )]
    PortInUse {
        /// The port.
        port: u16,
        /// Its protocol.
        protocol: Protocol,
        /// The service holding it (name).
        service: String,
    },
    /// A published port the swarm itself uses.
    #[error(
        "port {port} cannot be published: it is {user}, which the swarm itself uses; publish another port"
    )]
    SwarmPort {
        /// The port.
        port: u16,
        /// What uses it.
        user: String,
    },
    /// The service changed since the version the update was based on.
    #[error(
        "update out of sequence: service {service} is at version {current}, the update was made for version {given}"
    )]
    OutOfSequence {
        /// The service's name.
        service: String,
        /// Its version now.
        current: u64,
        /// The version the caller read.
        given: u64,
    },
    /// An update renames the service.
    #[error("renaming services is not supported (service {from}, new name {to})")]
    Rename {
        /// The current name.
        from: String,
        /// The name asked for.
        to: String,
    },
    /// An update switches between replicated and global.
    #[error("service mode change is not allowed (service {service})")]
    ModeChange {
        /// The service's name.
        service: String,
    },
    /// A rollback of a service that was never updated.
    #[error("service {service} does not have a previous spec to roll back to")]
    NoPreviousSpec {
        /// The service's name.
        service: String,
    },
    /// A network driver other than overlay.
    #[error("network driver {driver:?} is not supported: only \"overlay\" is")]
    UnsupportedDriver {
        /// The driver asked for.
        driver: String,
    },
    /// A network, subnet or address allocation was refused.
    #[error(transparent)]
    Allocator(#[from] AllocatorError),
    /// A network that services still use.
    #[error("network {name} is in use by service(s) {}", services.join(", "))]
    NetworkInUse {
        /// The network.
        name: String,
        /// Names of the services attached.
        services: Vec<String>,
    },
    /// `--rotate-keys` on a network without encryption.
    #[error("network {name} is not encrypted: it has no keys to rotate")]
    NotEncrypted {
        /// The network.
        name: String,
    },
    /// A secret that services still use.
    #[error("secret {name} is in use by service(s) {}", services.join(", "))]
    SecretInUse {
        /// The secret.
        name: String,
        /// Names of the services using it.
        services: Vec<String>,
    },
    /// A secret value that is not base64.
    #[error("secret {name}: the data is not valid base64 (standard alphabet, padded)")]
    SecretEncoding {
        /// The secret.
        name: String,
    },
    /// A secret value over the size limit.
    #[error("secret {name}: {size} bytes is over the limit of {limit} bytes")]
    SecretTooLarge {
        /// The secret.
        name: String,
        /// Its decoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A config that services still use (Docker's words).
    #[error(
        "config '{name}' is in use by the following service{}: {}",
        if services.len() == 1 { "" } else { "s" },
        services.join(", ")
    )]
    ConfigInUse {
        /// The config.
        name: String,
        /// Names of the services using it.
        services: Vec<String>,
    },
    /// A config value that is not base64.
    #[error("config {name}: the data is not valid base64 (standard alphabet, padded)")]
    ConfigEncoding {
        /// The config.
        name: String,
    },
    /// A config value that is empty or over the size limit (Docker's words).
    #[error(
        "config {name}: config data must be larger than 0 and less than {limit} bytes (it is {size})"
    )]
    ConfigSize {
        /// The config.
        name: String,
        /// Its decoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A config update made from a version that is no longer current.
    #[error(
        "config {name}: update out of sequence (version {given} was read, {current} is current)"
    )]
    ConfigOutOfSequence {
        /// The config.
        name: String,
        /// Its version now.
        current: u64,
        /// The version the caller read.
        given: u64,
    },
    /// The allocator's row exists but cannot be decoded: nothing is
    /// allocated until it is repaired (a fresh allocator would hand out
    /// addresses that are in use).
    #[error("the allocator's state in the store cannot be decoded; allocation is stopped")]
    AllocatorUnreadable,
    /// Allocating for one service or task failed (it is retried).
    #[error("allocating for {what} {id}")]
    Allocation {
        /// `service` or `task`.
        what: &'static str,
        /// Its ID.
        id: String,
        /// Why.
        #[source]
        source: AllocatorError,
    },
    /// Reconciling a service failed.
    #[error(transparent)]
    Orchestrate(#[from] OrchestratorError),
    /// A row could not be encoded.
    #[error("cannot encode a store row")]
    Encode {
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// The store refused or failed the write.
    #[error("cluster store")]
    Store(#[from] StoreError),
    /// A failure shared by every report batch of one commit.
    #[error(transparent)]
    Shared(std::sync::Arc<ManagerError>),
    /// The call that took this report batch for its commit was cancelled
    /// before it answered; the agent reports again.
    #[error("the task reports were not recorded: report them again")]
    ReportsLost,
}

impl ManagerError {
    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        match self {
            ManagerError::NotFound { .. } => 404,
            ManagerError::NameInUse { .. }
            | ManagerError::PortInUse { .. }
            | ManagerError::OutOfSequence { .. }
            | ManagerError::NetworkInUse { .. }
            | ManagerError::NotEncrypted { .. }
            | ManagerError::SecretInUse { .. }
            | ManagerError::ConfigInUse { .. }
            | ManagerError::ConfigOutOfSequence { .. } => 409,
            ManagerError::Allocator(err) => allocator_status(err),
            ManagerError::Store(err) if err.is_retryable() => 503,
            ManagerError::Shared(err) => err.status(),
            ManagerError::ReportsLost => 503,
            ManagerError::AllocatorUnreadable
            | ManagerError::Allocation { .. }
            | ManagerError::Orchestrate(_)
            | ManagerError::Encode { .. }
            | ManagerError::Store(_) => 500,
            _ => 400,
        }
    }
}

fn allocator_status(err: &AllocatorError) -> u16 {
    match err {
        AllocatorError::NetworkExists { .. }
        | AllocatorError::NetworkInUse { .. }
        | AllocatorError::PortInUse { .. } => 409,
        AllocatorError::UnknownNetwork { .. } => 404,
        AllocatorError::PoolExhausted { .. }
        | AllocatorError::VniExhausted { .. }
        | AllocatorError::AddressesExhausted { .. }
        | AllocatorError::DynamicPortsExhausted { .. } => 503,
        _ => 400,
    }
}
