//! The node's registry logins: `POST /registry/login` checks a login
//! against the registry (`GET /v2/`, as `docker login` does) and stores it
//! in the state directory's `registry-auth.json` (0600);
//! `POST /registry/logout` forgets it. Image pulls on this node use the
//! stored login of the registry they pull from, the operator's CAs in
//! `<state dir>/certs.d/<registry>/*.crt`, and the daemon's insecure
//! registries.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use super::DaemonError;
use super::core::Daemon;
use super::http_api::{ApiFailure, ApiJson};
use crate::api::{RegistryLoginRequest, RegistryLoginResponse, RegistryLogoutRequest};
use crate::runtime::image::{CredentialStore, Credentials, RegistryAccess, check_login};

/// The registry routes (merged into the API's router).
pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/registry/login", post(login))
        .route("/registry/logout", post(logout))
}

impl Daemon {
    /// The node's stored registry logins.
    pub(crate) fn credential_store(&self) -> CredentialStore {
        CredentialStore::new(self.paths.registry_auth_file())
    }

    /// How this node reaches `registry`: its insecure list, CAs and the
    /// stored login.
    pub(crate) fn registry_access(&self, registry: &str) -> Result<RegistryAccess, DaemonError> {
        Ok(RegistryAccess {
            insecure: self.opts.insecure_registries.clone(),
            certs_dir: Some(self.paths.registry_certs_dir()),
            credentials: self.credential_store().get(registry)?,
            ..RegistryAccess::default()
        })
    }
}

async fn login(
    State(daemon): State<Arc<Daemon>>,
    ApiJson(request): ApiJson<RegistryLoginRequest>,
) -> Result<Json<RegistryLoginResponse>, ApiFailure> {
    let credentials = Credentials {
        username: request.username,
        password: request.password,
    };
    let mut access = daemon.registry_access(&request.registry)?;
    access.credentials = Some(credentials.clone());
    check_login(&request.registry, &access)
        .await
        .map_err(|source| DaemonError::RegistryLogin {
            registry: request.registry.clone(),
            source,
        })?;
    daemon
        .credential_store()
        .set(&request.registry, credentials)
        .map_err(DaemonError::from)?;
    log::info!("stored a login for registry {}", request.registry);
    Ok(Json(RegistryLoginResponse {
        status: "Login Succeeded".to_owned(),
    }))
}

async fn logout(
    State(daemon): State<Arc<Daemon>>,
    ApiJson(request): ApiJson<RegistryLogoutRequest>,
) -> Result<Json<RegistryLoginResponse>, ApiFailure> {
    let removed = daemon
        .credential_store()
        .remove(&request.registry)
        .map_err(DaemonError::from)?;
    let status = match removed {
        true => format!("Removing login credentials for {}", request.registry),
        false => format!("Not logged in to {}", request.registry),
    };
    Ok(Json(RegistryLoginResponse { status }))
}
