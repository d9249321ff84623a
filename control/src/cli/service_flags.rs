//! The flags of `service create` and `service update` (Docker's names).
//! Turning them into a spec is [`super::service_spec`]'s job.

use clap::{Args, ValueEnum};
use shoal_control::spec::{
    ConfigRef, EndpointMode, FailureAction, Mount, PortConfig, RestartCondition, SecretRef,
    SecurityOpt, Span, Ulimit, UpdateOrder,
};

use super::parse::{self, NetworkFlag, PortToRemove};

/// `--mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// A fixed number of tasks.
    #[default]
    Replicated,
    /// One task per eligible node.
    Global,
}

/// `--restart-condition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RestartConditionArg {
    /// Never restart.
    None,
    /// Restart failed tasks.
    OnFailure,
    /// Restart whatever stopped.
    Any,
}

impl From<RestartConditionArg> for RestartCondition {
    fn from(arg: RestartConditionArg) -> Self {
        match arg {
            RestartConditionArg::None => RestartCondition::None,
            RestartConditionArg::OnFailure => RestartCondition::OnFailure,
            RestartConditionArg::Any => RestartCondition::Any,
        }
    }
}

/// `--update-order` / `--rollback-order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    /// Stop the old task, then start the new one.
    StopFirst,
    /// Start the new task, then stop the old one.
    StartFirst,
}

impl From<OrderArg> for UpdateOrder {
    fn from(arg: OrderArg) -> Self {
        match arg {
            OrderArg::StopFirst => UpdateOrder::StopFirst,
            OrderArg::StartFirst => UpdateOrder::StartFirst,
        }
    }
}

/// `--update-failure-action` / `--rollback-failure-action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailureActionArg {
    /// Stop the update.
    Pause,
    /// Carry on.
    Continue,
    /// Return to the previous spec.
    Rollback,
}

impl From<FailureActionArg> for FailureAction {
    fn from(arg: FailureActionArg) -> Self {
        match arg {
            FailureActionArg::Pause => FailureAction::Pause,
            FailureActionArg::Continue => FailureAction::Continue,
            FailureActionArg::Rollback => FailureAction::Rollback,
        }
    }
}

/// `--endpoint-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EndpointModeArg {
    /// A virtual IP per network.
    Vip,
    /// DNS round robin.
    Dnsrr,
}

impl From<EndpointModeArg> for EndpointMode {
    fn from(arg: EndpointModeArg) -> Self {
        match arg {
            EndpointModeArg::Vip => EndpointMode::Vip,
            EndpointModeArg::Dnsrr => EndpointMode::Dnsrr,
        }
    }
}

/// How long and how loudly to follow the service after a change.
#[derive(Debug, Clone, Default, Args)]
pub struct WatchFlags {
    /// Exit immediately instead of waiting for the service to converge.
    #[arg(short, long)]
    pub detach: bool,
    /// Suppress progress output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Give up waiting for convergence after this long.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse::span)]
    pub timeout: Span,
}

/// How `service create` and `service update` treat the image.
#[derive(Debug, Clone, Default, Args)]
pub struct ImageFlags {
    /// Send the registry login of the node the CLI talks to (`shoal
    /// login`) to the nodes that run the tasks, for private images.
    #[arg(long)]
    pub with_registry_auth: bool,
    /// Keep the tag as given instead of pinning it to the digest it names
    /// now (then nodes may run different images if the tag moves).
    #[arg(long)]
    pub no_resolve_image: bool,
}

impl ImageFlags {
    /// The query string for `/services/create` or `/update`; `resolve`:
    /// whether the image changed (only then is it pinned again).
    pub fn query(&self, resolve: bool) -> String {
        format!(
            "with_registry_auth={}&no_resolve_image={}",
            self.with_registry_auth,
            self.no_resolve_image || !resolve
        )
    }
}

impl UpdateFlags {
    /// Whether the update pins the image again: only when it is given (or
    /// with `--force`), as Docker's CLI does; a scale or an env change
    /// keeps the digest.
    pub fn resolves_image(&self) -> bool {
        self.image.is_some() || self.force
    }
}

/// Flags `service create` and `service update` share: they change one
/// field each, and leave it as it is when absent.
#[derive(Debug, Clone, Default, Args)]
pub struct PolicyFlags {
    /// Replace the image's entrypoint (a command line; "" goes back to the image's).
    #[arg(long, value_name = "CMD", allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// User the process runs as: user[:group], names or numbers ("" = the image's).
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,
    /// Working directory ("" = the image's).
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Mount the container's root filesystem read-only.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub read_only: Option<bool>,
    /// Run an init (tini) as the container's PID 1: it forwards signals and
    /// reaps orphaned processes.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub init: Option<bool>,
    /// Signal that stops the container (e.g. SIGQUIT).
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Time to wait before killing a container that was asked to stop.
    #[arg(long, value_name = "DURATION", value_parser = parse::span)]
    pub stop_grace_period: Option<Span>,
    /// Add a Linux capability (e.g. NET_ADMIN, or ALL).
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a Linux capability (e.g. NET_RAW, or ALL).
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Most tasks of the service on one node (0 = unlimited).
    #[arg(long, value_name = "N")]
    pub replicas_max_per_node: Option<u64>,
    /// How clients reach the tasks.
    #[arg(long, value_enum)]
    pub endpoint_mode: Option<EndpointModeArg>,
    /// The tasks' hostname (resolves to the task in the cluster's DNS).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Restart when: none, on-failure or any.
    #[arg(long, value_enum)]
    pub restart_condition: Option<RestartConditionArg>,
    /// Wait between restart attempts (e.g. 5s, 1m30s).
    #[arg(long, value_name = "DURATION", value_parser = parse::span)]
    pub restart_delay: Option<Span>,
    /// Most restarts before giving up (0 = unlimited).
    #[arg(long, value_name = "N")]
    pub restart_max_attempts: Option<u64>,
    /// Window in which restarts are counted.
    #[arg(long, value_name = "DURATION", value_parser = parse::span)]
    pub restart_window: Option<Span>,
    /// Command to check health, run with /bin/sh -c.
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between health checks.
    #[arg(long, value_name = "DURATION", value_parser = parse::span)]
    pub health_interval: Option<Span>,
    /// Longest time one health check may take.
    #[arg(long, value_name = "DURATION", value_parser = parse::span)]
    pub health_timeout: Option<Span>,
    /// Consecutive failures that make a task unhealthy.
    #[arg(long, value_name = "N")]
    pub health_retries: Option<u32>,
    /// Grace period before failed checks count.
    #[arg(long, value_name = "DURATION", value_parser = parse::span)]
    pub health_start_period: Option<Span>,
    /// Disable any health check of the image.
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Tasks updated at once (0 = all).
    #[arg(long, value_name = "N")]
    pub update_parallelism: Option<u64>,
    /// Wait between update batches.
    #[arg(long, value_name = "DURATION", value_parser = parse::span)]
    pub update_delay: Option<Span>,
    /// stop-first or start-first.
    #[arg(long, value_enum)]
    pub update_order: Option<OrderArg>,
    /// On failure: pause, continue or rollback.
    #[arg(long, value_enum)]
    pub update_failure_action: Option<FailureActionArg>,
    /// How long each updated task is watched for failure.
    #[arg(long, value_name = "DURATION", value_parser = parse::span)]
    pub update_monitor: Option<Span>,
    /// Fraction of tasks that may fail during an update (0 to 1).
    #[arg(long, value_name = "RATIO", value_parser = parse::ratio)]
    pub update_max_failure_ratio: Option<f64>,
    /// Tasks rolled back at once (0 = all).
    #[arg(long, value_name = "N")]
    pub rollback_parallelism: Option<u64>,
    /// Wait between rollback batches.
    #[arg(long, value_name = "DURATION", value_parser = parse::span)]
    pub rollback_delay: Option<Span>,
    /// stop-first or start-first.
    #[arg(long, value_enum)]
    pub rollback_order: Option<OrderArg>,
    /// On failure: pause or continue.
    #[arg(long, value_enum)]
    pub rollback_failure_action: Option<FailureActionArg>,
    /// How long each rolled-back task is watched for failure.
    #[arg(long, value_name = "DURATION", value_parser = parse::span)]
    pub rollback_monitor: Option<Span>,
    /// Fraction of tasks that may fail during a rollback (0 to 1).
    #[arg(long, value_name = "RATIO", value_parser = parse::ratio)]
    pub rollback_max_failure_ratio: Option<f64>,
    /// CPU limit per task (e.g. 0.5).
    #[arg(long, value_name = "CPUS", value_parser = parse::nano_cpus)]
    pub limit_cpu: Option<u64>,
    /// Memory limit per task (e.g. 64M).
    #[arg(long, value_name = "BYTES", value_parser = parse::memory_bytes)]
    pub limit_memory: Option<u64>,
    /// CPUs reserved per task on its node (e.g. 0.5).
    #[arg(long, value_name = "CPUS", value_parser = parse::nano_cpus)]
    pub reserve_cpu: Option<u64>,
    /// Memory reserved per task on its node (e.g. 64M).
    #[arg(long, value_name = "BYTES", value_parser = parse::memory_bytes)]
    pub reserve_memory: Option<u64>,
    /// Most processes per task (default 4096; 0 = unlimited).
    #[arg(long, value_name = "N")]
    pub limit_pids: Option<u64>,
    /// seccomp=unconfined (no seccomp profile) or seccomp=builtin (the
    /// default profile).
    #[arg(long = "security-opt", value_name = "OPT", value_parser = parse::security_opt)]
    pub security_opts: Vec<SecurityOpt>,
}

/// `service create [OPTIONS] IMAGE [ARG...]`.
#[derive(Debug, Clone, Args)]
pub struct CreateFlags {
    /// Service name (generated from the image when absent).
    #[arg(long)]
    pub name: Option<String>,
    /// replicated or global.
    #[arg(long, value_enum, default_value_t)]
    pub mode: ModeArg,
    /// Number of tasks (replicated mode; default 1).
    #[arg(long, value_name = "N")]
    pub replicas: Option<u64>,
    /// Environment variable KEY=value (KEY alone: this shell's value).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Attach to a network: NAME or name=NAME,alias=ALIAS (more names of
    /// the service on that network).
    #[arg(long = "network", value_name = "NETWORK", value_parser = parse::network)]
    pub networks: Vec<NetworkFlag>,
    /// Publish a port: [PUBLISHED:]TARGET[/PROTO] or published=,target=,protocol=,mode=.
    #[arg(short, long = "publish", value_name = "PORT", value_parser = parse::port)]
    pub publish: Vec<PortConfig>,
    /// Placement constraint (e.g. node.role==worker).
    #[arg(long = "constraint", value_name = "EXPR")]
    pub constraints: Vec<String>,
    /// Placement preference (spread=node.labels.KEY).
    #[arg(long = "placement-pref", value_name = "PREF")]
    pub placement_prefs: Vec<String>,
    /// Give the tasks a secret: NAME (at /run/secrets/NAME, mode 0444) or
    /// source=NAME,target=PATH,uid=N,gid=N,mode=0400.
    #[arg(long = "secret", value_name = "SECRET", value_parser = parse::secret)]
    pub secrets: Vec<SecretRef>,
    /// Give the tasks a config file: NAME (at /NAME, mode 0444) or
    /// source=NAME,target=/PATH,uid=N,gid=N,mode=0440.
    #[arg(long = "config", value_name = "CONFIG", value_parser = parse::config)]
    pub configs: Vec<ConfigRef>,
    /// Service label KEY=VALUE (changing one replaces no task).
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Container label KEY=VALUE.
    #[arg(long = "container-label", value_name = "KEY=VALUE")]
    pub container_labels: Vec<String>,
    /// Namespaced kernel parameter KEY=VALUE (net.*, kernel.shm*, ...).
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    pub sysctls: Vec<String>,
    /// A resolver the tasks' outside names are forwarded to (instead of the node's).
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<std::net::IpAddr>,
    /// A search domain of the tasks' resolv.conf.
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// A resolv.conf option (e.g. timeout:2).
    #[arg(long = "dns-option", value_name = "OPTION")]
    pub dns_options: Vec<String>,
    /// An /etc/hosts entry HOST:IP (Docker's `service create --host`; `-H/--host`
    /// is the daemon to talk to here).
    #[arg(long = "add-host", value_name = "HOST:IP", value_parser = parse::host_entry)]
    pub hosts: Vec<String>,
    /// rlimit NAME=SOFT[:HARD] (e.g. nofile=1024:2048).
    #[arg(long = "ulimit", value_name = "ULIMIT", value_parser = parse::ulimit)]
    pub ulimits: Vec<Ulimit>,
    /// Mount a filesystem: type=bind|volume|tmpfs,source=…,target=…[,readonly]
    /// [,volume-nocopy][,tmpfs-size=64m][,tmpfs-mode=1777].
    #[arg(long = "mount", value_name = "MOUNT", value_parser = parse::mount)]
    pub mounts: Vec<Mount>,
    #[command(flatten)]
    pub policy: PolicyFlags,
    #[command(flatten)]
    pub watch: WatchFlags,
    #[command(flatten)]
    pub images: ImageFlags,
    /// Image reference.
    pub image: String,
    /// Arguments for the image's entry point.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `service update [OPTIONS] SERVICE`.
#[derive(Debug, Clone, Args)]
pub struct UpdateFlags {
    /// New image reference.
    #[arg(long)]
    pub image: Option<String>,
    /// New arguments, as one shell-quoted string.
    #[arg(long, value_name = "COMMAND", allow_hyphen_values = true)]
    pub args: Option<String>,
    /// New number of tasks.
    #[arg(long, value_name = "N")]
    pub replicas: Option<u64>,
    /// Add or change an environment variable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub env_add: Vec<String>,
    /// Remove an environment variable.
    #[arg(long, value_name = "KEY")]
    pub env_rm: Vec<String>,
    /// Add or change a service label.
    #[arg(long, value_name = "KEY=VALUE")]
    pub label_add: Vec<String>,
    /// Remove a service label.
    #[arg(long, value_name = "KEY")]
    pub label_rm: Vec<String>,
    /// Add or change a container label.
    #[arg(long, value_name = "KEY=VALUE")]
    pub container_label_add: Vec<String>,
    /// Remove a container label.
    #[arg(long, value_name = "KEY")]
    pub container_label_rm: Vec<String>,
    /// Attach to a network: NAME or name=NAME,alias=ALIAS.
    #[arg(long, value_name = "NETWORK", value_parser = parse::network)]
    pub network_add: Vec<NetworkFlag>,
    /// Detach from a network.
    #[arg(long, value_name = "NAME")]
    pub network_rm: Vec<String>,
    /// Publish a port (replaces one with the same published port).
    #[arg(long, value_name = "PORT", value_parser = parse::port)]
    pub publish_add: Vec<PortConfig>,
    /// Unpublish a port, by published port (PUBLISHED[/PROTO]).
    #[arg(long, value_name = "PORT", value_parser = parse::port_to_remove)]
    pub publish_rm: Vec<PortToRemove>,
    /// Add a placement constraint.
    #[arg(long, value_name = "EXPR")]
    pub constraint_add: Vec<String>,
    /// Remove a placement constraint.
    #[arg(long, value_name = "EXPR")]
    pub constraint_rm: Vec<String>,
    /// Add a placement preference.
    #[arg(long, value_name = "PREF")]
    pub placement_pref_add: Vec<String>,
    /// Remove a placement preference.
    #[arg(long, value_name = "PREF")]
    pub placement_pref_rm: Vec<String>,
    /// Give the tasks a secret (NAME or source=,target=,uid=,gid=,mode=);
    /// replaces one at the same target.
    #[arg(long, value_name = "SECRET", value_parser = parse::secret)]
    pub secret_add: Vec<SecretRef>,
    /// Take a secret away (by name).
    #[arg(long, value_name = "NAME")]
    pub secret_rm: Vec<String>,
    /// Give the tasks a config (NAME or source=,target=,uid=,gid=,mode=);
    /// replaces one at the same target.
    #[arg(long, value_name = "CONFIG", value_parser = parse::config)]
    pub config_add: Vec<ConfigRef>,
    /// Take a config away (by name).
    #[arg(long, value_name = "NAME")]
    pub config_rm: Vec<String>,
    /// Add or change a sysctl KEY=VALUE.
    #[arg(long, value_name = "KEY=VALUE")]
    pub sysctl_add: Vec<String>,
    /// Remove a sysctl.
    #[arg(long, value_name = "KEY")]
    pub sysctl_rm: Vec<String>,
    /// Add or change an rlimit NAME=SOFT[:HARD].
    #[arg(long, value_name = "ULIMIT", value_parser = parse::ulimit)]
    pub ulimit_add: Vec<Ulimit>,
    /// Remove an rlimit, by name.
    #[arg(long, value_name = "NAME")]
    pub ulimit_rm: Vec<String>,
    /// Add a mount (replaces one at the same target).
    #[arg(long, value_name = "MOUNT", value_parser = parse::mount)]
    pub mount_add: Vec<Mount>,
    /// Remove a mount, by target path.
    #[arg(long, value_name = "TARGET")]
    pub mount_rm: Vec<String>,
    /// Replace the tasks even if nothing changed.
    #[arg(long)]
    pub force: bool,
    /// Roll back to the previous spec (as `service rollback`).
    #[arg(long)]
    pub rollback: bool,
    #[command(flatten)]
    pub policy: PolicyFlags,
    #[command(flatten)]
    pub watch: WatchFlags,
    #[command(flatten)]
    pub images: ImageFlags,
    /// The service (ID, ID prefix or name).
    pub service: String,
}
