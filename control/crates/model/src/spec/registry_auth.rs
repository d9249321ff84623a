//! [`RegistryAuth`]: the registry login a service's tasks pull with
//! (`service create/update --with-registry-auth`).

use serde::{Deserialize, Serialize};

/// A login for the registry of a service's image, taken from the `shoal
/// login` store of the node the CLI talked to. It travels in the task
/// template (as SwarmKit's `PullOptions.RegistryAuth` does), so it is
/// sealed at rest with the rest of the store and reaches only the nodes
/// that run the service's tasks; views drop it and `Debug` hides the
/// password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryAuth {
    /// `host[:port]` of the registry it is for.
    pub registry: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("RegistryAuth")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}
