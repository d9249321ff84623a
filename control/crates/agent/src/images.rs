//! Getting a task's image onto the node: pulled from its registry when
//! the store lacks it (the task shows `preparing` meanwhile), once per
//! image however many tasks wait for it, with the task's
//! `--with-registry-auth` login or else the node's own `shoal login`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shoal_model::assignment::AssignedTask;
use shoal_runtime::image::{
    CredentialStore, Credentials, ImageError, RegistryAccess, RegistryError, registry_of,
};

use super::{AgentError, Shared, lock};

/// How the agent gets and drops images.
#[derive(Debug, Clone, Default)]
pub struct ImagePolicy {
    /// How this node reaches registries (insecure ones, extra CAs); its
    /// login is filled per pull.
    pub access: RegistryAccess,
    /// The node's `shoal login` store, used when a task brings no login.
    pub logins: Option<CredentialStore>,
    /// Images no task of the node used for this long are removed (see
    /// `image_gc`); `None`: never.
    pub gc_grace: Option<Duration>,
}

/// One lock per image reference: the first task pulls, the others wait
/// and find it in the store.
#[derive(Debug, Default)]
pub(crate) struct PullLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl PullLocks {
    fn of(&self, image: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.0).entry(image.to_owned()).or_default().clone()
    }

    /// Forgets the locks nobody holds or waits for.
    fn tidy(&self) {
        lock(&self.0).retain(|_, l| Arc::strong_count(l) > 1);
    }
}

/// Makes sure the task's image is in the node's store: nothing to do when
/// it resolves; a reference without a registry is left to the create to
/// report (`No such image`); otherwise it is pulled.
pub(crate) async fn ensure_image(
    shared: &Arc<Shared>,
    assigned: &AssignedTask,
) -> Result<(), AgentError> {
    let image = assigned.task.spec.image.clone();
    let Some(registry) = registry_of(&image) else {
        return Ok(());
    };
    let image_lock = shared.pulls.of(&image);
    let held = image_lock.lock().await;
    let result = pull_if_missing(shared, assigned, &image, &registry).await;
    drop(held);
    drop(image_lock);
    shared.pulls.tidy();
    result
}

async fn pull_if_missing(
    shared: &Arc<Shared>,
    assigned: &AssignedTask,
    image: &str,
    registry: &str,
) -> Result<(), AgentError> {
    let access = access_for(shared, assigned, registry);
    let runtime = shared.runtime.clone();
    let wanted = image.to_owned();
    let pulled = tokio::task::spawn_blocking(move || {
        if runtime.images().resolve(&wanted).is_ok() {
            return Ok(None);
        }
        runtime.images().pull_with(&wanted, &access).map(Some)
    })
    .await
    .map_err(|_| AgentError::Panicked { what: "image pull" })?
    .map_err(|source| AgentError::Pull {
        image: image.to_owned(),
        source,
    })?;
    if let Some(pulled) = pulled {
        log::info!(
            "pulled {image} ({}, {} blobs downloaded)",
            pulled.image.manifest,
            pulled.fetched.len()
        );
    }
    Ok(())
}

/// The node's registry access with the task's login, else the node's.
fn access_for(shared: &Shared, assigned: &AssignedTask, registry: &str) -> RegistryAccess {
    let mut access = shared.images.access.clone();
    let given = assigned
        .task
        .spec
        .registry_auth
        .as_ref()
        .filter(|auth| auth.registry == registry)
        .map(|auth| Credentials {
            username: auth.username.clone(),
            password: auth.password.clone(),
        });
    access.credentials = match (given, &shared.images.logins) {
        (Some(given), _) => Some(given),
        (None, Some(logins)) => logins.get(registry).unwrap_or_else(|err| {
            log::warn!("registry logins: {err}");
            None
        }),
        (None, None) => None,
    };
    access
}

/// A pull failure in Docker's words first (`unauthorized: ...`, the
/// registry unreachable), then shoal's detail.
pub(crate) fn pull_failure(image: &str, err: &ImageError) -> String {
    let detail = shoal_model::error_chain::full_message(err);
    let ImageError::Registry { registry, source } = err else {
        return format!("pull failed: {image}: {detail}");
    };
    match source {
        RegistryError::LoginRequired { .. } => {
            format!("pull failed: unauthorized: authentication required (no login for {registry})")
        }
        RegistryError::CredentialsRefused { .. } => {
            format!("pull failed: unauthorized: {registry} refused the login")
        }
        RegistryError::Connect { .. }
        | RegistryError::Timeout { .. }
        | RegistryError::Http { .. } => {
            format!("pull failed: registry unreachable: {detail}")
        }
        _ => format!("pull failed: {detail}"),
    }
}
