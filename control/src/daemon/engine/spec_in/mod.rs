//! A Docker `ServiceSpec` (what `docker service create/update` and stacks
//! send) as shoal's [`ServiceSpec`]. Every level keeps the fields it does
//! not know; one that carries a value is refused naming its path
//! (`TaskTemplate.ContainerSpec.Mounts`), never silently dropped. Zero
//! values (`""`, `0`, `false`, `{}`, `[]`, null) and the defaults Docker's
//! CLI always sends (`Isolation: default`) pass.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use shoal_model::spec::{Placement, Resources, ServiceMode, ServiceSpec, Span, TaskTemplate};

mod convert;
mod mounts;

pub(crate) use mounts::docker_mount;

use super::shapes::is_unset;

use convert::{config, endpoint, health, process_options, restart, secret, update};

/// Fields of one level that no typed field took.
type Rest = BTreeMap<String, Value>;

/// A spec shoal cannot run as given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SpecInError {
    /// A field shoal does not support carries a value.
    #[error("{field} is not supported by shoal")]
    Unsupported {
        /// Its path in the spec.
        field: String,
    },
    /// A field has a value shoal does not know.
    #[error("{field}: unsupported value {value:?}")]
    BadValue {
        /// Its path in the spec.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// The body is not a Docker service spec.
    #[error("invalid service spec: {reason}")]
    Malformed {
        /// What the decoder said.
        reason: String,
    },
}

/// Refuses the first field of `rest` (at `path`) that carries a value.
fn refuse_rest(path: &str, rest: &Rest) -> Result<(), SpecInError> {
    match rest.iter().find(|(k, v)| !is_unset(k, v)) {
        Some((key, _)) => Err(SpecInError::Unsupported {
            field: if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            },
        }),
        None => Ok(()),
    }
}

/// Nanoseconds (Docker's durations) as a [`Span`].
fn span(nanos: i64) -> Span {
    Span(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct DockerSpec {
    name: String,
    labels: BTreeMap<String, String>,
    task_template: DockerTaskTemplate,
    mode: Rest,
    update_config: Option<DockerUpdate>,
    rollback_config: Option<DockerUpdate>,
    endpoint_spec: DockerEndpointSpec,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerTaskTemplate {
    container_spec: DockerContainer,
    resources: DockerResources,
    restart_policy: Option<DockerRestart>,
    placement: DockerPlacement,
    networks: Vec<DockerNetwork>,
    force_update: u64,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerContainer {
    image: String,
    hostname: String,
    args: Vec<String>,
    env: Vec<String>,
    secrets: Vec<DockerSecret>,
    configs: Vec<DockerConfigRef>,
    healthcheck: Option<DockerHealth>,
    labels: BTreeMap<String, String>,
    mounts: Vec<mounts::DockerMount>,
    command: Vec<String>,
    user: String,
    dir: String,
    read_only: bool,
    init: Option<bool>,
    stop_signal: String,
    stop_grace_period: Option<i64>,
    capability_add: Option<Vec<String>>,
    capability_drop: Option<Vec<String>>,
    sysctls: Option<BTreeMap<String, String>>,
    ulimits: Option<Vec<DockerUlimit>>,
    #[serde(rename = "DNSConfig")]
    dns_config: Option<DockerDns>,
    hosts: Option<Vec<String>>,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerDns {
    nameservers: Option<Vec<String>>,
    search: Option<Vec<String>>,
    options: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerUlimit {
    name: String,
    soft: i64,
    hard: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerSecret {
    file: DockerSecretFile,
    #[serde(rename = "SecretID")]
    secret_id: String,
    secret_name: String,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerSecretFile {
    name: String,
    #[serde(rename = "UID")]
    uid: String,
    #[serde(rename = "GID")]
    gid: String,
    mode: u32,
}

/// Docker's `ConfigReference` (`File` only: `Runtime`, Windows' credential
/// spec, is refused as any other unknown field).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerConfigRef {
    file: Option<DockerSecretFile>,
    #[serde(rename = "ConfigID")]
    config_id: String,
    config_name: String,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerHealth {
    test: Vec<String>,
    interval: i64,
    timeout: i64,
    retries: u32,
    start_period: i64,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerResources {
    limits: DockerLimits,
    reservations: DockerLimits,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerLimits {
    #[serde(rename = "NanoCPUs")]
    nano_cpus: u64,
    memory_bytes: u64,
    pids: u64,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerRestart {
    condition: String,
    delay: Option<i64>,
    max_attempts: u64,
    window: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerPlacement {
    constraints: Vec<String>,
    preferences: Vec<DockerPreference>,
    max_replicas: u64,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerPreference {
    spread: DockerSpread,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerSpread {
    spread_descriptor: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerNetwork {
    target: String,
    aliases: Vec<String>,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerUpdate {
    parallelism: u64,
    delay: i64,
    failure_action: String,
    monitor: i64,
    max_failure_ratio: f64,
    order: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerEndpointSpec {
    mode: String,
    ports: Vec<DockerPort>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerPort {
    protocol: String,
    target_port: u16,
    published_port: u16,
    publish_mode: String,
    #[serde(flatten)]
    rest: Rest,
}

/// Decodes a Docker `ServiceSpec` body.
pub(crate) fn decode(body: &[u8]) -> Result<DockerSpec, SpecInError> {
    serde_json::from_slice(body).map_err(|e| SpecInError::Malformed {
        reason: e.to_string(),
    })
}

impl DockerSpec {
    /// shoal's spec; `network_name` turns a network ID or name into its
    /// name (`None`: unknown, kept as given so the manager's refusal names
    /// it).
    pub(crate) fn into_spec(
        self,
        network_name: impl Fn(&str) -> Option<String>,
    ) -> Result<ServiceSpec, SpecInError> {
        refuse_rest("", &self.rest)?;
        let mode = mode(&self.mode)?;
        let task = template(self.task_template, network_name)?;
        let (ports, endpoint_mode) = endpoint(self.endpoint_spec)?;
        Ok(ServiceSpec {
            name: self.name,
            task,
            mode,
            ports,
            update_config: update(self.update_config, "UpdateConfig")?,
            rollback_config: update(self.rollback_config, "RollbackConfig")?,
            endpoint_mode,
            labels: self.labels,
        })
    }
}

fn mode(mode: &Rest) -> Result<ServiceMode, SpecInError> {
    if let Some(replicated) = mode.get("Replicated") {
        let replicas = replicated
            .get("Replicas")
            .and_then(Value::as_u64)
            .unwrap_or(1);
        return Ok(ServiceMode::Replicated { replicas });
    }
    if mode.contains_key("Global") {
        return Ok(ServiceMode::Global);
    }
    match mode.keys().next() {
        Some(other) => Err(SpecInError::Unsupported {
            field: format!("Mode.{other}"),
        }),
        None => Ok(ServiceMode::Replicated { replicas: 1 }),
    }
}

fn template(
    t: DockerTaskTemplate,
    network_name: impl Fn(&str) -> Option<String>,
) -> Result<TaskTemplate, SpecInError> {
    refuse_rest("TaskTemplate", &t.rest)?;
    let mut c = t.container_spec;
    refuse_rest("TaskTemplate.ContainerSpec", &c.rest)?;
    refuse_rest("TaskTemplate.Resources", &t.resources.rest)?;
    refuse_rest("TaskTemplate.Resources.Limits", &t.resources.limits.rest)?;
    refuse_rest(
        "TaskTemplate.Resources.Reservations",
        &t.resources.reservations.rest,
    )?;
    refuse_rest("TaskTemplate.Placement", &t.placement.rest)?;
    if t.resources.reservations.pids != 0 {
        return Err(SpecInError::Unsupported {
            field: "TaskTemplate.Resources.Reservations.Pids".to_owned(),
        });
    }
    let mut networks = Vec::new();
    let mut network_aliases = BTreeMap::new();
    for n in t.networks {
        refuse_rest("TaskTemplate.Networks", &n.rest)?;
        let name = network_name(&n.target).unwrap_or(n.target);
        if !n.aliases.is_empty() {
            network_aliases.insert(name.clone(), n.aliases);
        }
        networks.push(name);
    }
    let limits = &t.resources.limits;
    let container = process_options(&mut c)?;
    Ok(TaskTemplate {
        image: c.image,
        hostname: (!c.hostname.is_empty()).then_some(c.hostname),
        network_aliases,
        args: c.args,
        env: c.env,
        networks,
        placement: Placement {
            constraints: t.placement.constraints,
            preferences: t
                .placement
                .preferences
                .into_iter()
                .map(|p| format!("spread={}", p.spread.spread_descriptor))
                .collect(),
            max_replicas_per_node: t.placement.max_replicas,
        },
        restart_policy: restart(t.restart_policy)?,
        healthcheck: c.healthcheck.map(health).transpose()?,
        resources: Resources {
            nano_cpus: t.resources.reservations.nano_cpus,
            memory_bytes: t.resources.reservations.memory_bytes,
        },
        limits: Resources {
            nano_cpus: limits.nano_cpus,
            memory_bytes: limits.memory_bytes,
        },
        secrets: c
            .secrets
            .into_iter()
            .map(secret)
            .collect::<Result<_, _>>()?,
        configs: c
            .configs
            .into_iter()
            .map(config)
            .collect::<Result<_, _>>()?,
        pids_limit: (limits.pids != 0).then_some(limits.pids),
        force_update: t.force_update,
        container,
        container_labels: c.labels,
        mounts: c
            .mounts
            .into_iter()
            .map(mounts::mount)
            .collect::<Result<_, _>>()?,
        ..TaskTemplate::default()
    })
}
