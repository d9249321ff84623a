//! Bodies of the registry login routes (act on the node the CLI talks to;
//! the login is stored there, 0600, for its image pulls):
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /registry/login` | [`RegistryLoginRequest`] | [`RegistryLoginResponse`] (401 when the registry refuses the login) |
//! | `POST /registry/logout` | [`RegistryLogoutRequest`] | [`RegistryLoginResponse`] |

use std::fmt;

use serde::{Deserialize, Serialize};

/// `shoal login`'s body.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryLoginRequest {
    /// `host[:port]` of the registry.
    pub registry: String,
    /// User name.
    pub username: String,
    /// Password or access token.
    pub password: String,
}

impl fmt::Debug for RegistryLoginRequest {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryLoginRequest")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `shoal logout`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryLogoutRequest {
    /// `host[:port]` of the registry.
    pub registry: String,
}

/// What a login or logout did, for the operator (Docker's `Status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryLoginResponse {
    /// `Login Succeeded`, `Removing login credentials for ...`.
    pub status: String,
}
