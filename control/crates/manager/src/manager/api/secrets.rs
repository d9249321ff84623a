//! `secret create` and `secret rm`.

use base64::Engine;

use super::{check_object_name, commit, load, resolve};
use crate::manager::{Leadership, ManagerError, views};
use shoal_model::api::{SecretCreateRequest, SecretView};
use shoal_model::cluster::{SecretRecord, now_secs};
use shoal_model::ids::new_id;

/// Largest secret value, decoded (Docker's 500 KiB).
pub const SECRET_MAX_BYTES: usize = 500 * 1024;

/// Stores a new secret.
pub async fn create_secret<L: Leadership>(
    leader: &L,
    request: SecretCreateRequest,
) -> Result<SecretView, ManagerError> {
    check_object_name("secret", &request.name)?;
    let value = base64::engine::general_purpose::STANDARD
        .decode(&request.data_b64)
        .map_err(|_| ManagerError::SecretEncoding {
            name: request.name.clone(),
        })?;
    if value.len() > SECRET_MAX_BYTES {
        return Err(ManagerError::SecretTooLarge {
            name: request.name,
            size: value.len(),
            limit: SECRET_MAX_BYTES,
        });
    }
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    if before.secret_named(&request.name).is_some() {
        return Err(ManagerError::NameInUse {
            kind: "secret",
            name: request.name,
        });
    }
    let record = SecretRecord {
        id: new_id(),
        name: request.name,
        data_b64: request.data_b64,
        labels: request.labels,
        created_at: now_secs(),
    };
    let mut after = before.clone();
    after.secrets.insert(record.id.clone(), record.clone());
    commit(leader, &before, &after).await?;
    log::info!("created secret {} ({})", record.name, record.id);
    Ok(views::secret_view(&record))
}

/// Removes the secret `target` names, unless a service uses it.
pub async fn remove_secret<L: Leadership>(leader: &L, target: &str) -> Result<(), ManagerError> {
    let _writes = leader.writes().lock().await;
    let before = load(leader);
    let record = resolve(&before.secrets, target, "secret", |s| &s.name)?.clone();
    let users: Vec<String> = before
        .services
        .values()
        .filter(|s| {
            let secrets = &s.spec.task.secrets;
            secrets.iter().any(|secret| secret.source == record.name)
        })
        .map(|s| s.spec.name.clone())
        .collect();
    if !users.is_empty() {
        return Err(ManagerError::SecretInUse {
            name: record.name,
            services: users,
        });
    }
    let mut after = before.clone();
    after.secrets.remove(&record.id);
    commit(leader, &before, &after).await?;
    log::info!("removed secret {} ({})", record.name, record.id);
    Ok(())
}
