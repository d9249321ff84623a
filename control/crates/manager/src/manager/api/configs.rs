//! `config create`, `config update` (labels only) and `config rm`.

use base64::Engine;

use super::{check_object_name, commit, load, resolve};
use crate::manager::{Leadership, ManagerError, views};
use shoal_model::api::{ConfigCreateRequest, ConfigUpdateRequest, ConfigView};
use shoal_model::cluster::{ConfigRecord, now_secs};
use shoal_model::ids::new_id;

/// A config value must be shorter than this, decoded (Docker's 1000 KiB).
pub const CONFIG_MAX_BYTES: usize = 1000 * 1024;

/// Stores a new config.
pub async fn create_config<L: Leadership>(
    leader: &L,
    request: ConfigCreateRequest,
) -> Result<ConfigView, ManagerError> {
    check_object_name("config", &request.name)?;
    let value = base64::engine::general_purpose::STANDARD
        .decode(&request.data_b64)
        .map_err(|_| ManagerError::ConfigEncoding {
            name: request.name.clone(),
        })?;
    if value.is_empty() || value.len() >= CONFIG_MAX_BYTES {
        return Err(ManagerError::ConfigSize {
            name: request.name,
            size: value.len(),
            limit: CONFIG_MAX_BYTES,
        });
    }
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    if before.config_named(&request.name).is_some() {
        return Err(ManagerError::NameInUse {
            kind: "config",
            name: request.name,
        });
    }
    let now = now_secs();
    let record = ConfigRecord {
        id: new_id(),
        name: request.name,
        data_b64: request.data_b64,
        labels: request.labels,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut after = before.clone();
    after.configs.insert(record.id.clone(), record.clone());
    commit(leader, &before, &after).await?;
    log::info!("created config {} ({})", record.name, record.id);
    Ok(views::config_view(&record))
}

/// Replaces a config's labels (its value never changes), if the caller
/// read the current version.
pub async fn update_config<L: Leadership>(
    leader: &L,
    request: ConfigUpdateRequest,
) -> Result<ConfigView, ManagerError> {
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    let mut record = resolve(&before.configs, &request.target, "config", |c| &c.name)?.clone();
    if let Some(given) = request.version
        && given != record.version
    {
        return Err(ManagerError::ConfigOutOfSequence {
            name: record.name,
            current: record.version,
            given,
        });
    }
    record.labels = request.labels;
    record.version += 1;
    record.updated_at = now_secs();
    let mut after = before.clone();
    after.configs.insert(record.id.clone(), record.clone());
    commit(leader, &before, &after).await?;
    log::info!(
        "updated the labels of config {} ({})",
        record.name,
        record.id
    );
    Ok(views::config_view(&record))
}

/// Removes the config `target` names, unless a service uses it.
pub async fn remove_config<L: Leadership>(leader: &L, target: &str) -> Result<(), ManagerError> {
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    let record = resolve(&before.configs, target, "config", |c| &c.name)?.clone();
    let users: Vec<String> = before
        .services
        .values()
        .filter(|s| s.spec.task.configs.iter().any(|c| c.source == record.name))
        .map(|s| s.spec.name.clone())
        .collect();
    if !users.is_empty() {
        return Err(ManagerError::ConfigInUse {
            name: record.name,
            services: users,
        });
    }
    let mut after = before.clone();
    after.configs.remove(&record.id);
    commit(leader, &before, &after).await?;
    log::info!("removed config {} ({})", record.name, record.id);
    Ok(())
}
