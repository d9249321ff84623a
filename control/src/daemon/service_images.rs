//! A service's image as `service create/update` send it on: its tag
//! pinned to the manifest digest the registry names now (unless
//! `--no-resolve-image`), and with `--with-registry-auth` this node's
//! `shoal login` for the image's registry, which the nodes running its
//! tasks pull with. Done here, on the node the CLI talks to, as Docker's
//! CLI does it with its own login.

use serde::Deserialize;

use super::DaemonError;
use super::core::Daemon;
use crate::error_chain::full_message;
use crate::runtime::image::{pin_image, registry_of};
use crate::spec::{RegistryAuth, TaskTemplate};

/// `?with_registry_auth=true&no_resolve_image=true` on `POST
/// /services/create` and `/services/{id}/update`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ImageQuery {
    /// Send this node's login for the image's registry to the nodes.
    #[serde(default)]
    pub(crate) with_registry_auth: bool,
    /// Keep the tag as given (no digest pinning).
    #[serde(default)]
    pub(crate) no_resolve_image: bool,
}

/// Pins `task.image` and attaches the login as `query` asks; the
/// warnings to show (a registry image that could not be resolved keeps
/// its tag, as Docker's does).
pub(crate) async fn prepare(
    daemon: &Daemon,
    task: &mut TaskTemplate,
    query: &ImageQuery,
) -> Result<Vec<String>, DaemonError> {
    let Some(registry) = registry_of(&task.image) else {
        // A name without a registry: an image loaded on the nodes by hand.
        return Ok(Vec::new());
    };
    let access = daemon.registry_access(&registry)?;
    let mut warnings = Vec::new();
    if !query.no_resolve_image {
        match pin_image(&task.image, &access).await {
            Ok(Some(pinned)) => task.image = pinned,
            Ok(None) => {}
            Err(err) => {
                let warning = format!(
                    "image {} could not be accessed on a registry to record its digest ({}); each node will access {} independently, possibly leading to different nodes running different versions of the image",
                    task.image,
                    full_message(&err),
                    task.image
                );
                log::warn!("{warning}");
                warnings.push(warning);
            }
        }
    }
    if query.with_registry_auth {
        task.registry_auth = access.credentials.map(|login| RegistryAuth {
            registry,
            username: login.username,
            password: login.password,
        });
    }
    Ok(warnings)
}
