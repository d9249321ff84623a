//! `/swarm` in Docker's shapes (`docker swarm init/join/leave/join-token/
//! unlock/unlock-key/update`): the swarm object with its join tokens,
//! and the same operations as shoal's own `/swarm` routes. An update may
//! rotate tokens and the unlock key, turn autolock on or off and change the
//! node certificate lifetime; any other change of the spec is refused
//! naming the field.

use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::core::Daemon;
use super::super::http_api::api_call;
use super::super::{boot, swarm, views};
use super::EngineFailure;
use super::nodes::manager;
use super::shapes::{is_unset, parse_body, rfc3339_secs, truthy};
use crate::allocator::POOL_SUBNET_PREFIX;
use crate::api::{InitRequest, JoinRequest};
use crate::cluster::{ClusterRecord, NodeRole};
use crate::ctl::ApiOp;

/// Nanoseconds per second (Docker's durations).
const NANOS: u64 = 1_000_000_000;

/// The swarm's version for Docker's optimistic concurrency: a hash of
/// what an update can change, so a stale `version` is refused.
fn version_of(cluster: &ClusterRecord) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    cluster.worker_secret.hash(&mut hasher);
    cluster.manager_secret.hash(&mut hasher);
    cluster.unlock_key.hash(&mut hasher);
    cluster.autolock.hash(&mut hasher);
    cluster.cert_expiry_secs.hash(&mut hasher);
    // Docker's client sends it back as a JSON number: keep it exact.
    hasher.finish() >> 11
}

/// The swarm's spec as shoal keeps it.
fn spec_of(cluster: &ClusterRecord) -> Value {
    json!({
        "Name": "default",
        "Labels": {},
        "CAConfig": {"NodeCertExpiry": cluster.cert_expiry_secs.saturating_mul(NANOS)},
        "EncryptionConfig": {"AutoLockManagers": cluster.autolock},
        "Dispatcher": {"HeartbeatPeriod": cluster.heartbeat_period_ms.saturating_mul(NANOS / 1000)},
        "TaskDefaults": {},
    })
}

fn loaded(
    daemon: &Daemon,
) -> Result<(Arc<super::super::core::Active>, ClusterRecord), EngineFailure> {
    let (active, manager) = manager(daemon)?;
    let cluster = manager.cluster().map_err(EngineFailure::from)?;
    Ok((active, cluster))
}

/// `GET /swarm`.
pub(crate) async fn inspect(
    State(daemon): State<Arc<Daemon>>,
) -> Result<Json<Value>, EngineFailure> {
    let (active, cluster) = loaded(&daemon)?;
    let token = |role| views::join_token(&active, &cluster, role).map(|t| t.token);
    Ok(Json(json!({
        "ID": cluster.id,
        "Version": {"Index": version_of(&cluster)},
        "CreatedAt": rfc3339_secs(cluster.created_at),
        "UpdatedAt": rfc3339_secs(cluster.created_at),
        "Spec": spec_of(&cluster),
        "TLSInfo": {"TrustRoot": cluster.ca_cert_pem},
        "RootRotationInProgress": false,
        "DataPathPort": cluster.data_path_port,
        "JoinTokens": {"Worker": token(NodeRole::Worker)?, "Manager": token(NodeRole::Manager)?},
    })))
}

/// The first leaf of `sent` (at `path`) that carries a value different
/// from `ours`: what an update would change.
fn changed(path: &str, sent: &Map<String, Value>, ours: &Value) -> Option<String> {
    sent.iter().find_map(|(key, value)| {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let mine = ours.get(key);
        match value {
            Value::Object(inner) => changed(&here, inner, mine.unwrap_or(&Value::Null)),
            _ if mine == Some(value) || (mine.is_none() && is_unset(key, value)) => None,
            _ => Some(here),
        }
    })
}

/// The settings an update changes, each `None` when sent as it is (or
/// not sent).
#[derive(Debug, Default, PartialEq, Eq)]
struct Settings {
    autolock: Option<bool>,
    cert_expiry_secs: Option<u64>,
    heartbeat_period_ms: Option<u64>,
}

/// A duration `sent` at `section.field`, in nanoseconds as Docker sends it.
fn nanos_at(sent: &Map<String, Value>, section: &str, field: &str) -> Option<u64> {
    sent.get(section)
        .and_then(|s| s.get(field))
        .and_then(Value::as_u64)
}

fn settings(sent: &Map<String, Value>, cluster: &ClusterRecord) -> Settings {
    let autolock = sent
        .get("EncryptionConfig")
        .and_then(|e| e.get("AutoLockManagers"))
        .and_then(Value::as_bool)
        .filter(|on| *on != cluster.autolock);
    let cert_expiry_secs = nanos_at(sent, "CAConfig", "NodeCertExpiry")
        .map(|nanos| nanos / NANOS)
        .filter(|secs| *secs != 0 && *secs != cluster.cert_expiry_secs);
    let heartbeat_period_ms = nanos_at(sent, "Dispatcher", "HeartbeatPeriod")
        .map(|nanos| nanos / (NANOS / 1000))
        .filter(|ms| *ms != 0 && *ms != cluster.heartbeat_period_ms);
    Settings {
        autolock,
        cert_expiry_secs,
        heartbeat_period_ms,
    }
}

/// `?version=N&rotateWorkerToken=…&rotateManagerToken=…&rotateManagerUnlockKey=…`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateQuery {
    version: Option<u64>,
    rotate_worker_token: Option<String>,
    rotate_manager_token: Option<String>,
    rotate_manager_unlock_key: Option<String>,
}

/// `POST /swarm/update`: token and unlock-key rotation.
pub(crate) async fn update(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<UpdateQuery>,
    body: Bytes,
) -> Result<Json<Value>, EngineFailure> {
    let (_, cluster) = loaded(&daemon)?;
    if query.version != Some(version_of(&cluster)) {
        return Err(EngineFailure {
            status: StatusCode::CONFLICT,
            message: "update out of sequence".to_owned(),
        });
    }
    let sent: Map<String, Value> = serde_json::from_slice(&body)
        .map_err(|e| EngineFailure::bad_request(format!("invalid swarm spec: {e}")))?;
    let asked = settings(&sent, &cluster);
    let mut wanted = cluster.clone();
    wanted.autolock = asked.autolock.unwrap_or(cluster.autolock);
    wanted.cert_expiry_secs = asked.cert_expiry_secs.unwrap_or(cluster.cert_expiry_secs);
    wanted.heartbeat_period_ms = asked
        .heartbeat_period_ms
        .unwrap_or(cluster.heartbeat_period_ms);
    if let Some(field) = changed("", &sent, &spec_of(&wanted)) {
        return Err(EngineFailure::bad_request(format!(
            "Spec.{field}: changing it is not supported by shoal"
        )));
    }
    if asked != Settings::default() {
        let op = ApiOp::UpdateSwarm {
            autolock: asked.autolock,
            cert_expiry_secs: asked.cert_expiry_secs,
            key_rotation_secs: None,
            heartbeat_period_ms: asked.heartbeat_period_ms,
        };
        api_call(&daemon, op).await?;
    }
    for (wanted, role) in [
        (&query.rotate_worker_token, NodeRole::Worker),
        (&query.rotate_manager_token, NodeRole::Manager),
    ] {
        if truthy(wanted.as_deref()) {
            api_call(&daemon, ApiOp::RotateToken { role }).await?;
        }
    }
    if truthy(query.rotate_manager_unlock_key.as_deref()) {
        api_call(&daemon, ApiOp::RotateUnlockKey).await?;
    }
    Ok(Json(json!({})))
}

/// Docker's init body (what shoal can honour of it).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerInit {
    listen_addr: String,
    advertise_addr: String,
    data_path_port: u16,
    auto_lock_managers: bool,
    spec: Option<Map<String, Value>>,
    force_new_cluster: bool,
    default_addr_pool: Option<Vec<String>>,
    subnet_size: u32,
}

/// `POST /swarm/init`: the new node's ID, as a JSON string.
pub(crate) async fn init(
    State(daemon): State<Arc<Daemon>>,
    body: Bytes,
) -> Result<Json<String>, EngineFailure> {
    let docker: DockerInit = parse_body(&body)?;
    for (set, field) in [
        (docker.force_new_cluster, "ForceNewCluster"),
        (
            docker
                .default_addr_pool
                .as_ref()
                .is_some_and(|p| !p.is_empty()),
            "DefaultAddrPool",
        ),
        (
            ![0, u32::from(POOL_SUBNET_PREFIX)].contains(&docker.subnet_size),
            "SubnetSize (other than 24)",
        ),
    ] {
        if set {
            return Err(EngineFailure::unsupported(field));
        }
    }
    let mut rest = docker.spec.unwrap_or_default();
    let expiry = rest
        .get("CAConfig")
        .and_then(|c| c.get("NodeCertExpiry"))
        .and_then(Value::as_u64)
        .filter(|n| *n > 0);
    if let Some(ca) = rest.get_mut("CAConfig").and_then(Value::as_object_mut) {
        ca.remove("NodeCertExpiry");
    }
    if let Some((key, _)) = rest.iter().find(|(k, v)| !is_unset(k, v)) {
        return Err(EngineFailure::unsupported(&format!("Spec.{key}")));
    }
    let request = InitRequest {
        advertise_addr: (!docker.advertise_addr.is_empty()).then_some(docker.advertise_addr),
        listen_addr: if docker.listen_addr.is_empty() {
            "0.0.0.0:2377".to_owned()
        } else {
            docker.listen_addr
        },
        autolock: docker.auto_lock_managers,
        data_path_port: (docker.data_path_port != 0).then_some(docker.data_path_port),
        cert_expiry_secs: expiry.map(|n| n / NANOS),
    };
    let answer = swarm::init(&daemon, request).await?;
    Ok(Json(answer.node_id))
}

/// Docker's join body.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerJoin {
    listen_addr: String,
    advertise_addr: String,
    remote_addrs: Option<Vec<String>>,
    join_token: String,
}

/// `POST /swarm/join`.
pub(crate) async fn join(
    State(daemon): State<Arc<Daemon>>,
    body: Bytes,
) -> Result<Json<Value>, EngineFailure> {
    let docker: DockerJoin = parse_body(&body)?;
    let Some(remote_addr) = docker.remote_addrs.into_iter().flatten().next() else {
        return Err(EngineFailure::bad_request(
            "RemoteAddrs: a manager's address is required",
        ));
    };
    let request = JoinRequest {
        remote_addr,
        token: docker.join_token,
        advertise_addr: (!docker.advertise_addr.is_empty()).then_some(docker.advertise_addr),
        listen_addr: if docker.listen_addr.is_empty() {
            "0.0.0.0:2377".to_owned()
        } else {
            docker.listen_addr
        },
    };
    swarm::join(&daemon, request).await?;
    Ok(Json(json!({})))
}

/// `?force=1`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LeaveQuery {
    force: Option<String>,
}

/// `POST /swarm/leave`.
pub(crate) async fn leave(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<LeaveQuery>,
) -> Result<Json<Value>, EngineFailure> {
    swarm::leave(&daemon, truthy(query.force.as_deref())).await?;
    Ok(Json(json!({})))
}

/// `GET /swarm/unlockkey`: `{"UnlockKey": …}` (empty when autolock is off).
pub(crate) async fn unlock_key(
    State(daemon): State<Arc<Daemon>>,
) -> Result<Json<Value>, EngineFailure> {
    let (_, cluster) = loaded(&daemon)?;
    let key = cluster
        .unlock_key
        .filter(|_| cluster.autolock)
        .unwrap_or_default();
    Ok(Json(json!({"UnlockKey": key})))
}

/// Docker's unlock body.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerUnlock {
    unlock_key: String,
}

/// `POST /swarm/unlock`.
pub(crate) async fn unlock(
    State(daemon): State<Arc<Daemon>>,
    body: Bytes,
) -> Result<Json<Value>, EngineFailure> {
    let docker: DockerUnlock = parse_body(&body)?;
    boot::unlock(&daemon, &docker.unlock_key).await?;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_may_send_the_spec_back_but_not_change_it() {
        let ours = json!({"Name": "default", "CAConfig": {"NodeCertExpiry": 5}, "EncryptionConfig": {"AutoLockManagers": false}});
        let sent = |text: &str| serde_json::from_str::<Map<String, Value>>(text).expect("json");
        // What Docker's client sends back: our fields and its zero values.
        let back = sent(
            r#"{"Name":"default","Labels":null,"Orchestration":{},"Raft":{"ElectionTick":0},
            "CAConfig":{"NodeCertExpiry":5},"EncryptionConfig":{"AutoLockManagers":false},"TaskDefaults":{}}"#,
        );
        assert_eq!(changed("", &back, &ours), None);
        let autolock = sent(r#"{"EncryptionConfig":{"AutoLockManagers":true}}"#);
        assert_eq!(
            changed("", &autolock, &ours).as_deref(),
            Some("EncryptionConfig.AutoLockManagers")
        );
        let raft = sent(r#"{"Raft":{"SnapshotInterval":10000}}"#);
        assert_eq!(
            changed("", &raft, &ours).as_deref(),
            Some("Raft.SnapshotInterval")
        );
    }

    #[test]
    fn autolock_cert_expiry_and_heartbeat_are_the_settings_an_update_changes() {
        let cluster = ClusterRecord {
            id: "c".into(),
            ca_cert_pem: String::new(),
            ca_key_pem: String::new(),
            worker_secret: String::new(),
            manager_secret: String::new(),
            autolock: false,
            unlock_key: None,
            cert_expiry_secs: 3600,
            data_path_port: 4789,
            key_rotation_secs: crate::cluster::DEFAULT_KEY_ROTATION_SECS,
            heartbeat_period_ms: crate::cluster::DEFAULT_HEARTBEAT_PERIOD_MS,
            created_at: 0,
        };
        let sent = |text: &str| serde_json::from_str::<Map<String, Value>>(text).expect("json");
        let both = sent(
            r#"{"CAConfig":{"NodeCertExpiry":7200000000000},"EncryptionConfig":{"AutoLockManagers":true}}"#,
        );
        assert_eq!(
            settings(&both, &cluster),
            Settings {
                autolock: Some(true),
                cert_expiry_secs: Some(7200),
                heartbeat_period_ms: None,
            }
        );
        let beat = sent(r#"{"Dispatcher":{"HeartbeatPeriod":5000000000}}"#);
        assert_eq!(settings(&beat, &cluster).heartbeat_period_ms, Some(5000));
        let same = sent(
            r#"{"CAConfig":{"NodeCertExpiry":3600000000000},"EncryptionConfig":{"AutoLockManagers":false}}"#,
        );
        assert_eq!(settings(&same, &cluster), Settings::default());
        assert_eq!(settings(&sent("{}"), &cluster), Settings::default());
    }
}
