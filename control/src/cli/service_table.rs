//! What `service ls`, `service ps` and `service inspect --pretty` print.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use shoal_control::api::{ServiceView, TaskView};
use shoal_control::spec::{
    EndpointMode, PortConfig, Protocol, PublishMode, ServiceMode, TaskState, TaskTemplate,
    Timestamp,
};

use super::humanize::{ago, short_id, title};
use super::output::Table;

/// `*:8080->80/tcp, *:53->53/udp`.
pub fn ports_text<'a>(ports: impl IntoIterator<Item = &'a PortConfig>) -> String {
    ports
        .into_iter()
        .map(|p| {
            let protocol = match p.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            };
            format!("*:{}->{}/{protocol}", p.published, p.target)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ports a service publishes: the allocated ones once the allocator
/// ran (dynamic ports filled in), the spec's before.
pub fn service_ports(view: &ServiceView) -> &[PortConfig] {
    match &view.endpoint {
        Some(endpoint) if !endpoint.ports.is_empty() => &endpoint.ports,
        _ => &view.service.spec.ports,
    }
}

/// `replicated` / `global`.
pub fn mode_name(mode: &ServiceMode) -> &'static str {
    match mode {
        ServiceMode::Replicated { .. } => "replicated",
        ServiceMode::Global => "global",
    }
}

/// An image as the tables show it: a pinned `name:tag@sha256:...`
/// without its digest, as Docker's `service ls` and `ps` do (`inspect`
/// shows it whole).
pub fn image_text(image: &str) -> &str {
    image.split_once('@').map_or(image, |(name, _)| name)
}

/// `service ls`: one row per service, sorted by name.
pub fn service_table(views: &[ServiceView]) -> Table {
    let mut table = Table::new(&["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]);
    let mut sorted: Vec<&ServiceView> = views.iter().collect();
    sorted.sort_by(|a, b| a.service.spec.name.cmp(&b.service.spec.name));
    for view in sorted {
        let spec = &view.service.spec;
        table.row(vec![
            short_id(&view.service.id, false).to_owned(),
            spec.name.clone(),
            mode_name(&spec.mode).to_owned(),
            format!("{}/{}", view.running, view.desired),
            image_text(&spec.task.image).to_owned(),
            ports_text(service_ports(view)),
        ]);
    }
    table
}

/// Options of `service ps` that change the table.
#[derive(Debug, Clone, Copy)]
pub struct PsOptions {
    /// Full IDs and errors.
    pub no_trunc: bool,
    /// When the table is made, for "Running 7 minutes ago".
    pub now: Timestamp,
}

/// Longest error shown without `--no-trunc`.
const ERROR_WIDTH: usize = 30;

/// Tasks in Docker's `ps` order: by slot (or node for global services),
/// the current task of each first and its history after, newest first.
pub fn ps_order(tasks: &mut [TaskView]) {
    tasks.sort_by_cached_key(|t| {
        (
            t.service_name.clone(),
            t.task.slot,
            t.name.clone(),
            Reverse(t.task.is_wanted()),
            Reverse(t.task.spec_version),
            Reverse(t.task.status.timestamp),
        )
    });
}

/// `service ps`: `tasks` in [`ps_order`]; a task sharing its name with
/// the row above is history and is shown as ` \_ web.1`. `ports` maps
/// service IDs to their ports, of which host-mode ones are shown on
/// running tasks.
pub fn task_table(
    tasks: &[TaskView],
    ports: &BTreeMap<String, Vec<PortConfig>>,
    options: PsOptions,
) -> Table {
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "IMAGE",
        "NODE",
        "DESIRED STATE",
        "CURRENT STATE",
        "ERROR",
        "PORTS",
    ]);
    let mut previous: Option<&str> = None;
    for view in tasks {
        let task = &view.task;
        let name = if previous == Some(view.name.as_str()) {
            format!(" \\_ {}", view.name)
        } else {
            view.name.clone()
        };
        previous = Some(&view.name);
        let running = task.status.state == TaskState::Running;
        table.row(vec![
            short_id(&task.id, options.no_trunc).to_owned(),
            name,
            image_text(&task.spec.image).to_owned(),
            view.node_hostname.clone().unwrap_or_default(),
            title(task.desired_state.name()),
            format!(
                "{} {}",
                title(task.status.state.name()),
                ago(options.now, task.status.timestamp)
            ),
            error_text(task.status.err.as_deref(), options.no_trunc),
            if running {
                let service_ports = ports.get(&task.service_id).map_or(&[][..], Vec::as_slice);
                ports_text(service_ports.iter().filter(|p| p.mode == PublishMode::Host))
            } else {
                String::new()
            },
        ]);
    }
    table
}

/// Why a `service ps --filter` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Not `key=value`.
    #[error("bad format of filter {text:?} (expected name=value)")]
    Syntax {
        /// The filter given.
        text: String,
    },
    /// A key `service ps` does not filter on.
    #[error("invalid filter {key:?}: expected desired-state, id, name or node")]
    Key {
        /// The key given.
        key: String,
    },
    /// A desired state tasks never have.
    #[error(
        "invalid filter 'desired-state={value}': expected running, ready, accepted or shutdown"
    )]
    DesiredState {
        /// The value given.
        value: String,
    },
}

/// `service ps --filter`: every key given must match (values of one key
/// are alternatives), as in Docker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PsFilter {
    by_key: BTreeMap<String, Vec<String>>,
}

impl PsFilter {
    /// Parses `desired-state=running`, `node=HOST`, `id=PREFIX`, `name=web.1`.
    pub fn parse(texts: &[String]) -> Result<PsFilter, FilterError> {
        let mut filter = PsFilter::default();
        for text in texts {
            let Some((key, value)) = text.split_once('=') else {
                return Err(FilterError::Syntax { text: text.clone() });
            };
            match key {
                "desired-state"
                    if !["running", "ready", "accepted", "shutdown"].contains(&value) =>
                {
                    return Err(FilterError::DesiredState {
                        value: value.to_owned(),
                    });
                }
                "desired-state" | "node" | "id" | "name" => {}
                _ => {
                    return Err(FilterError::Key {
                        key: key.to_owned(),
                    });
                }
            }
            filter
                .by_key
                .entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
        Ok(filter)
    }

    /// Whether `view` passes.
    pub fn matches(&self, view: &TaskView) -> bool {
        let task = &view.task;
        self.by_key.iter().all(|(key, values)| {
            values.iter().any(|value| match key.as_str() {
                // Docker's `accepted` stands for tasks wanted but not
                // started; shoal's managers call that `ready`.
                "desired-state" => {
                    task.desired_state.name() == value
                        || (value == "accepted" && task.desired_state == TaskState::Ready)
                }
                "node" => {
                    view.node_hostname.as_deref() == Some(value.as_str())
                        || task.node_id.as_deref() == Some(value.as_str())
                }
                "id" => task.id.starts_with(value.as_str()),
                "name" => view.name == *value,
                _ => false,
            })
        })
    }
}

/// `"task: non-zero exit (1)"`, quoted as Docker does and cut to
/// [`ERROR_WIDTH`] characters unless `no_trunc`.
fn error_text(err: Option<&str>, no_trunc: bool) -> String {
    match err {
        None | Some("") => String::new(),
        Some(err) if no_trunc || err.chars().count() <= ERROR_WIDTH => format!("\"{err}\""),
        Some(err) => {
            let cut: String = err.chars().take(ERROR_WIDTH - 1).collect();
            format!("\"{cut}…\"")
        }
    }
}

/// The name a spec enum has in the API's JSON (`stop-first`, `pause`,
/// `rollback_started`), which is also Docker's spelling.
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// `service inspect --pretty`.
pub fn pretty(view: &ServiceView) -> String {
    let service = &view.service;
    let spec = &service.spec;
    let mut out = format!("\nID:\t\t{}\nName:\t\t{}\n", service.id, spec.name);
    match spec.mode {
        ServiceMode::Replicated { replicas } => {
            out += &format!("Service Mode:\tReplicated\n Replicas:\t{replicas}\n");
        }
        ServiceMode::Global => out += "Service Mode:\tGlobal\n",
    }
    if let Some(status) = &service.update_status {
        out += &format!(
            "UpdateStatus:\n State:\t\t{}\n Message:\t{}\n",
            wire_name(&status.state),
            status.message
        );
    }
    let placement = &spec.task.placement;
    if !placement.constraints.is_empty() {
        out += &format!("Placement:\n Constraints:\t{:?}\n", placement.constraints);
    }
    for (title, config) in [
        ("UpdateConfig", &spec.update_config),
        ("RollbackConfig", &spec.rollback_config),
    ] {
        out += &format!(
            "{title}:\n Parallelism:\t{}\n Delay:\t\t{}\n On failure:\t{}\n Monitoring Period: {}\n Max failure ratio: {}\n Update order:      {}\n",
            config.parallelism,
            config.delay,
            wire_name(&config.failure_action),
            config.monitor,
            config.max_failure_ratio,
            wire_name(&config.order)
        );
    }
    out += &format!("ContainerSpec:\n Image:\t\t{}\n", spec.task.image);
    if !spec.task.args.is_empty() {
        out += &format!(" Args:\t\t{}\n", spec.task.args.join(" "));
    }
    if !spec.task.env.is_empty() {
        out += &format!(" Env:\t\t{}\n", spec.task.env.join(" "));
    }
    out += &confinement(&spec.task);
    if !spec.task.networks.is_empty() {
        out += &format!("Networks:\t{}\n", spec.task.networks.join(" "));
    }
    let endpoint_mode = match spec.endpoint_mode {
        EndpointMode::Vip => "vip",
        EndpointMode::Dnsrr => "dnsrr",
    };
    out += &format!("Endpoint Mode:\t{endpoint_mode}\n");
    let ports = service_ports(view);
    if !ports.is_empty() {
        out += &format!("Ports:\t\t{}\n", ports_text(ports));
    }
    out
}

/// The pretty lines for a task's secrets, configs, pids limit and seccomp.
fn confinement(task: &TaskTemplate) -> String {
    let mut out = String::new();
    for secret in &task.secrets {
        out += &format!(
            " Secret:\t{} at {} (uid {}, gid {}, mode {:04o})\n",
            secret.source,
            secret.path(),
            secret.uid,
            secret.gid,
            secret.mode
        );
    }
    for config in &task.configs {
        out += &format!(
            " Config:\t{} at {} (uid {}, gid {}, mode {:04o})\n",
            config.source, config.target, config.uid, config.gid, config.mode
        );
    }
    let pids = task
        .effective_pids_limit()
        .map_or_else(|| "unlimited".to_owned(), |limit| limit.to_string());
    let seccomp = if task.seccomp_unconfined {
        "unconfined"
    } else {
        "builtin"
    };
    out + &format!(" Pids limit:\t{pids}\n Seccomp:\t{seccomp}\n")
}

#[cfg(test)]
#[path = "service_table_tests.rs"]
mod tests;
