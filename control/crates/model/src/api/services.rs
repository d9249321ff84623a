//! Bodies of the service, task, network, secret and image routes.
//!
//! Routes (Docker Engine API shapes; `{id}` is an ID, a unique ID prefix
//! or the name):
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /services/create` | [`crate::spec::ServiceSpec`] | [`ServiceCreateResponse`] |
//! | `GET /services` | | `Vec<`[`ServiceView`]`>` |
//! | `GET /services/{id}` | | [`ServiceView`] |
//! | `POST /services/{id}/update` | [`ServiceUpdateRequest`] | [`ServiceView`] |
//! | `POST /services/{id}/rollback` | | [`ServiceView`] |
//! | `DELETE /services/{id}` | | `{}` |
//! | `GET /services/{id}/logs?tail=N` | | `Vec<`[`TaskLogs`]`>` |
//! | `GET /services/{id}/logs?tail=N&follow=true` | | a chunked stream, one [`TaskLogs`] JSON per line, until the client leaves |
//! | `GET /tasks?service={id}` (all tasks without it) | | `Vec<`[`TaskView`]`>` |
//! | `POST /networks/create` | [`NetworkCreateRequest`] | [`crate::cluster::NetworkRecord`] |
//! | `GET /networks`, `GET /networks/{id}` | | records |
//! | `DELETE /networks/{id}` | | `{}` |
//! | `POST /secrets/create` | [`SecretCreateRequest`] | [`SecretView`] |
//! | `GET /secrets`, `GET /secrets/{id}` | | [`SecretView`]s (never the value) |
//! | `DELETE /secrets/{id}` | | `{}` |
//! | `POST /configs/create` | [`ConfigCreateRequest`] | [`ConfigView`] |
//! | `GET /configs`, `GET /configs/{id}` | | [`ConfigView`]s (with the value) |
//! | `POST /configs/{id}/update` | [`ConfigUpdateRequest`] | [`ConfigView`] |
//! | `DELETE /configs/{id}` | | `{}` |
//! | `POST /images/load` | the archive's bytes | `Vec<`[`LoadedImageView`]`>` |
//! | `POST /images/pull` | [`ImagePullRequest`] | `Vec<`[`LoadedImageView`]`>` (one) |
//! | `GET /images` | | `Vec<`[`ImageView`]`>` |
//!
//! Service, task, network and secret routes need a manager (changes go
//! through the raft leader); image routes act on the node the CLI talks to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cluster::ServiceEndpoint;
use crate::spec::{Service, ServiceSpec, Task};

/// Answer to `service create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCreateResponse {
    /// The new service's ID.
    pub id: String,
    /// Things the operator should know (Docker's `Warnings`).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// `service update` / `service scale`: the whole new spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceUpdateRequest {
    /// The new spec (the CLI reads the current one and changes it).
    pub spec: ServiceSpec,
    /// The version the CLI read; the update is refused (409) if the service
    /// changed since. `None`: no check.
    #[serde(default)]
    pub version: Option<u64>,
    /// `--force`: replace the tasks even when the template is unchanged.
    #[serde(default)]
    pub force: bool,
}

/// A service as `service ls` / `service inspect` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    /// The stored service (ID, spec, previous spec, version, update status).
    #[serde(flatten)]
    pub service: Service,
    /// VIPs and allocated ports, once the allocator ran.
    #[serde(default)]
    pub endpoint: Option<ServiceEndpoint>,
    /// Tasks running now (desired running and observed running).
    pub running: u64,
    /// Tasks wanted: the replicas, or for a global service the eligible nodes.
    pub desired: u64,
    /// Creation time (seconds since the epoch).
    #[serde(default)]
    pub created_at: u64,
    /// Last change (seconds since the epoch).
    #[serde(default)]
    pub updated_at: u64,
}

/// A task as `service ps` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// The stored task.
    #[serde(flatten)]
    pub task: Task,
    /// `web.1` (replicated) or `web.<node id>` (global).
    pub name: String,
    /// The service's name.
    pub service_name: String,
    /// The node's hostname, if assigned.
    #[serde(default)]
    pub node_hostname: Option<String>,
    /// Its node is down: what the task last reported may be stale (a
    /// task there never reports its stop).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub node_down: bool,
}

/// `network create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCreateRequest {
    /// Name.
    pub name: String,
    /// Driver (`overlay`, the default and only one).
    #[serde(default)]
    pub driver: Option<String>,
    /// `--subnet a.b.c.d/len`; from the pool when unset.
    #[serde(default)]
    pub subnet: Option<String>,
    /// `--opt encrypted`.
    #[serde(default)]
    pub encrypted: bool,
    /// `--internal`: no egress.
    #[serde(default)]
    pub internal: bool,
    /// `--label k=v`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// What `network update --rotate-keys` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotation {
    /// The network named.
    pub network: String,
    /// The generation of the swarm's encrypted-network key now current
    /// (one key serves every encrypted network).
    pub generation: u64,
}

/// `secret create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretCreateRequest {
    /// Name.
    pub name: String,
    /// The value, base64.
    pub data_b64: String,
    /// `--label k=v`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A secret without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretView {
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Creation time (seconds since the epoch).
    pub created_at: u64,
}

/// `config create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigCreateRequest {
    /// Name.
    pub name: String,
    /// The value, base64.
    pub data_b64: String,
    /// `--label k=v`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A config's label change (its value cannot change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigUpdateRequest {
    /// The config's ID, name or unique ID prefix.
    pub target: String,
    /// The version the change was made from; another one is refused.
    #[serde(default)]
    pub version: Option<u64>,
    /// The new labels (all of them).
    pub labels: BTreeMap<String, String>,
}

/// A config, with its value (configs are not secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigView {
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// The value, base64.
    pub data_b64: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Creation time (seconds since the epoch).
    pub created_at: u64,
    /// Last label change (seconds since the epoch).
    pub updated_at: u64,
    /// Object version.
    pub version: u64,
}

/// The captured output of one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLogs {
    /// Task ID.
    pub task_id: String,
    /// `web.1`.
    pub name: String,
    /// Node hostname.
    pub node: String,
    /// stdout and stderr interleaved, as captured (lossy UTF-8).
    pub text: String,
    /// Why the logs could not be fetched (node down...), if so.
    #[serde(default)]
    pub error: Option<String>,
}

/// One image `image load` or `image pull` added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedImageView {
    /// `repo:tag` it was stored under, if the archive or reference named it.
    #[serde(default)]
    pub name: Option<String>,
    /// Image ID (`sha256:` + hex of the config digest).
    pub id: String,
    /// Manifest digest (`sha256:...`), as a registry names the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `image pull` only: the node had this image under this name already.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub up_to_date: bool,
    /// `image pull` only: blobs downloaded (0 when all were present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloaded_blobs: Option<usize>,
}

/// `image pull`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePullRequest {
    /// `host[:port]/name[:tag|@sha256:...]`; https, or plain http for a
    /// registry the daemon marks insecure.
    pub reference: String,
}

/// One row of `image ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageView {
    /// Repository (`<none>` when untagged).
    pub repository: String,
    /// Tag (`<none>` when untagged).
    pub tag: String,
    /// Image ID (`sha256:` + hex).
    pub id: String,
    /// Bytes of its config and layers.
    pub size: u64,
    /// Its manifest digest (`sha256:` + hex): what a pinned service
    /// reference (`name:tag@sha256:...`) names.
    #[serde(default)]
    pub digest: Option<String>,
}
