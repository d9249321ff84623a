//! What a service is (its spec), what the cluster made of it (tasks) and
//! the view of nodes the scheduler and orchestrator work with
//! ([`SchedNode`], a projection of [`crate::node::NodeRecord`]).
//!
//! The JSON shapes are the ones stored in the replicated store; specs are
//! checked with [`ServiceSpec::validate`] before they are stored.

mod config;
mod constraint;
mod container;
mod error;
mod file_ref;
mod mount;
mod registry_auth;
mod sched_node;
mod secret;
mod security;
mod service;
mod span;
mod task;
mod validate;
pub use validate::{MAX_REPLICAS, SpecLimits, is_dns_name};

pub use config::{ConfigRef, DEFAULT_CONFIG_MODE, absolute_target as config_target};
pub use constraint::{Constraint, ConstraintKey, ConstraintOp, SpreadPreference};
pub use container::{ContainerOptions, Ulimit};
pub use error::SpecError;
pub use mount::{Mount, MountKind};
pub use registry_auth::RegistryAuth;
pub use sched_node::SchedNode;
pub use secret::{DEFAULT_SECRET_MODE, SECRETS_DIR, SecretRef};
pub use security::{DEFAULT_PIDS_LIMIT, SecurityOpt};
pub use service::{Service, UpdateState, UpdateStatus};
pub use span::Span;
pub use task::{
    MAX_STATUS_TEXT_LEN, NetworkAttachment, TRUNCATED_MARKER, Task, TaskReport, TaskState,
    TaskStatus, Timestamp, truncate_text,
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the user asked for: `shoal service create` / `update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Service name (`web`); tasks are shown as `web.1`, `web.2`, ...
    pub name: String,
    /// Everything a task is made from; flattened into the spec's JSON.
    #[serde(flatten)]
    pub task: TaskTemplate,
    /// Replicated with a count, or global (one task per eligible node).
    pub mode: ServiceMode,
    /// Published ports.
    #[serde(default)]
    pub ports: Vec<PortConfig>,
    /// How a rolling update proceeds.
    #[serde(default)]
    pub update_config: UpdateConfig,
    /// How a rollback proceeds.
    #[serde(default)]
    pub rollback_config: UpdateConfig,
    /// How clients reach the tasks: a virtual IP or DNS round robin.
    #[serde(default)]
    pub endpoint_mode: EndpointMode,
    /// The service's labels (`--label`; a stack's namespace): changing
    /// them replaces no task (they are not part of the task template).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The part of a service spec every task carries a copy of; a task whose
/// copy differs from the service's is out of date (a rolling update
/// replaces it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskTemplate {
    /// Image reference.
    pub image: String,
    /// Arguments passed to the image's entry point.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment, `KEY=value` each.
    #[serde(default)]
    pub env: Vec<String>,
    /// Networks (by name) the tasks are attached to.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Where tasks may run.
    #[serde(default)]
    pub placement: Placement,
    /// When a stopped task is replaced.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Container health check; `None` keeps the image's.
    #[serde(default)]
    pub healthcheck: Option<HealthCheck>,
    /// Resources reserved on the node for each task.
    #[serde(default)]
    pub resources: Resources,
    /// Limits put on each task's container (cgroups); a zero field means
    /// no limit.
    #[serde(default, skip_serializing_if = "Resources::is_zero")]
    pub limits: Resources,
    /// Secrets put under `/run/secrets` in each task (a bare name, as
    /// stored by older versions, decodes as `/run/secrets/<name>`, 0444).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretRef>,
    /// Configs put at their target paths in each task (read-only files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<ConfigRef>,
    /// Most processes per task (cgroup `pids.max`): unset means
    /// [`DEFAULT_PIDS_LIMIT`], 0 means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<u64>,
    /// Run the tasks without the default seccomp profile
    /// (`--security-opt seccomp=unconfined`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub seccomp_unconfined: bool,
    /// Bumped by `service update --force` so the template differs and every
    /// task is replaced; 0 (never forced) is left out of the JSON.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub force_update: u64,
    /// The containers' hostname (`--hostname`); unset: the first 12
    /// characters of the task's ID, as Docker's. It resolves to the task
    /// in the embedded DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// More DNS names of the service, per network (`--network
    /// name=front,alias=api`): they resolve like the service's name, only
    /// on that network.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub network_aliases: BTreeMap<String, Vec<String>>,
    /// The containers' labels (`--container-label`): kept and shown with
    /// the spec (a change replaces the tasks, as Docker's does).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub container_labels: BTreeMap<String, String>,
    /// Filesystems mounted into the containers (`--mount`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// How the container process runs (entrypoint, user, workdir, ...).
    #[serde(flatten)]
    pub container: ContainerOptions,
    /// `--with-registry-auth`: the login its nodes pull the image with
    /// (never shown: see [`TaskTemplate::without_registry_auth`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_auth: Option<RegistryAuth>,
}

impl TaskTemplate {
    /// The template as views show it: without the registry login.
    pub fn without_registry_auth(mut self) -> TaskTemplate {
        self.registry_auth = None;
        self
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Replicated or global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMode {
    /// A fixed number of tasks, in slots `1..=replicas`.
    Replicated {
        /// Number of tasks.
        replicas: u64,
    },
    /// One task on every node that passes the service's constraints.
    Global,
}

/// A published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortConfig {
    /// Port on the nodes; 0 asks the allocator for one (ingress mode).
    #[serde(default)]
    pub published: u16,
    /// Port inside the task.
    pub target: u16,
    /// Transport protocol.
    #[serde(default)]
    pub protocol: Protocol,
    /// Routing mesh on every node, or the node running the task only.
    #[serde(default)]
    pub mode: PublishMode,
}

/// Transport protocol of a published port.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

/// How a port is published.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PublishMode {
    /// Routing mesh: every node listens and forwards to any task.
    #[default]
    Ingress,
    /// Only nodes running a task listen, and reach only their own task.
    Host,
}

/// Placement: constraints, spread preferences and a per-node cap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// `node.labels.zone==a`, `node.role!=manager`, ... (all must hold).
    #[serde(default)]
    pub constraints: Vec<String>,
    /// `spread=node.labels.zone`, applied in order.
    #[serde(default)]
    pub preferences: Vec<String>,
    /// Most tasks of this service on one node; 0 = no limit.
    #[serde(default)]
    pub max_replicas_per_node: u64,
}

/// When a task that stopped is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// Which kinds of stop lead to a restart.
    #[serde(default)]
    pub condition: RestartCondition,
    /// Wait between the stop and the replacement.
    #[serde(default = "default_restart_delay")]
    pub delay: Span,
    /// Most restarts within `window`; 0 = unlimited.
    #[serde(default)]
    pub max_attempts: u64,
    /// How far back restarts are counted; 0 = forever.
    #[serde(default)]
    pub window: Span,
}

fn default_restart_delay() -> Span {
    Span::from_secs(5)
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            condition: RestartCondition::Any,
            delay: default_restart_delay(),
            max_attempts: 0,
            window: Span::ZERO,
        }
    }
}

/// Which stops lead to a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    /// Never restart.
    None,
    /// Restart tasks that failed (non-zero exit, rejected).
    OnFailure,
    /// Restart tasks that stopped for any reason.
    #[default]
    Any,
}

/// A container health check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// The test, Docker style: `["CMD", "curl", "-f", "http://localhost"]`,
    /// `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub cmd: Vec<String>,
    /// Time between checks (0 = default).
    #[serde(default)]
    pub interval: Span,
    /// Time one check may take (0 = default).
    #[serde(default)]
    pub timeout: Span,
    /// Consecutive failures before unhealthy (0 = default).
    #[serde(default)]
    pub retries: u32,
    /// Grace period after start during which failures don't count.
    #[serde(default)]
    pub start_period: Span,
}

/// How a rolling update (or rollback) proceeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UpdateConfig {
    /// Tasks updated at once; 0 = all at once.
    #[serde(default = "default_parallelism")]
    pub parallelism: u64,
    /// Wait after a batch is running before the next starts.
    #[serde(default)]
    pub delay: Span,
    /// Stop the old task first, or start the new one first.
    #[serde(default)]
    pub order: UpdateOrder,
    /// What a failed update does.
    #[serde(default)]
    pub failure_action: FailureAction,
    /// How long new tasks are watched for failure.
    #[serde(default = "default_monitor")]
    pub monitor: Span,
    /// Fraction of tasks that may fail before `failure_action` applies.
    #[serde(default)]
    pub max_failure_ratio: f64,
}

fn default_parallelism() -> u64 {
    1
}

fn default_monitor() -> Span {
    Span::from_secs(5)
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            parallelism: default_parallelism(),
            delay: Span::ZERO,
            order: UpdateOrder::StopFirst,
            failure_action: FailureAction::Pause,
            monitor: default_monitor(),
            max_failure_ratio: 0.0,
        }
    }
}

/// Order of stopping the old and starting the new task of a slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    /// Stop the old task, then start the new one.
    #[default]
    StopFirst,
    /// Start the new task, stop the old one once the new one runs.
    StartFirst,
}

/// What an update does when too many new tasks fail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureAction {
    /// Stop updating; `service update` resumes.
    #[default]
    Pause,
    /// Carry on regardless.
    Continue,
    /// Go back to the previous spec.
    Rollback,
}

/// How the service is reached inside its networks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointMode {
    /// One virtual IP per network, load-balanced to the tasks.
    #[default]
    Vip,
    /// DNS answers with the tasks' addresses.
    Dnsrr,
}

/// CPU and memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// CPUs in billionths (`--reserve-cpu 0.5` = 500_000_000).
    #[serde(default)]
    pub nano_cpus: u64,
    /// Memory in bytes.
    #[serde(default)]
    pub memory_bytes: u64,
}

impl Resources {
    /// What a node offers while it reports no capacity: everything, so
    /// reservations never keep a task off it.
    pub const UNMEASURED: Resources = Resources {
        nano_cpus: u64::MAX,
        memory_bytes: u64::MAX,
    };

    /// Whether `self` fits into `available`.
    pub fn fits_in(&self, available: &Resources) -> bool {
        self.nano_cpus <= available.nano_cpus && self.memory_bytes <= available.memory_bytes
    }

    /// `self` minus `used`, never below zero.
    pub fn saturating_sub(&self, used: &Resources) -> Resources {
        Resources {
            nano_cpus: self.nano_cpus.saturating_sub(used.nano_cpus),
            memory_bytes: self.memory_bytes.saturating_sub(used.memory_bytes),
        }
    }

    /// Whether nothing is reserved.
    pub fn is_zero(&self) -> bool {
        self.nano_cpus == 0 && self.memory_bytes == 0
    }
}

impl ServiceSpec {
    /// A replicated service with one replica of `image` and defaults
    /// everywhere else.
    pub fn new(name: &str, image: &str) -> ServiceSpec {
        ServiceSpec {
            name: name.to_owned(),
            task: TaskTemplate {
                image: image.to_owned(),
                ..TaskTemplate::default()
            },
            mode: ServiceMode::Replicated { replicas: 1 },
            ports: Vec::new(),
            update_config: UpdateConfig::default(),
            rollback_config: UpdateConfig::default(),
            endpoint_mode: EndpointMode::Vip,
            labels: BTreeMap::new(),
        }
    }

    /// Ports published on the nodes running a task (host mode, fixed port):
    /// two tasks with one of these cannot share a node.
    pub fn host_ports(&self) -> impl Iterator<Item = &PortConfig> {
        self.ports
            .iter()
            .filter(|port| port.mode == PublishMode::Host && port.published != 0)
    }
}

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod tests;
