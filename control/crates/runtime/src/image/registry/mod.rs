//! A minimal client of the OCI distribution API (`GET /v2/<name>/manifests/<ref>`,
//! `GET /v2/<name>/blobs/<digest>`): https verified against the system's
//! and the operator's CAs; plain http only for an insecure registry whose
//! port does not speak TLS; Basic or Bearer-token login from the node's
//! credentials; one connection per request; redirects followed, to https
//! only unless the registry is insecure, and the login sent only to the
//! registry itself. Verifying what it fetches is the caller's job.

mod auth;
mod error;
mod redirect;
mod transport;

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use http_body_util::BodyExt as _;
use hyper::body::{Bytes, Incoming};
use hyper::header::WWW_AUTHENTICATE;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use hyper::{Response, StatusCode, Uri};
use tokio::time::timeout;

pub use error::RegistryError;

use super::Digest;
use super::access::{Credentials, RegistryAccess};
use super::types::{MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST, MEDIA_INDEX, MEDIA_MANIFEST};
use transport::Transport;

/// Connecting, and waiting for response headers or the next body chunk,
/// give up after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 5;
/// Largest manifest or index accepted.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// A manifest or index as served.
#[derive(Debug)]
pub(crate) struct FetchedManifest {
    /// `Content-Type` without parameters (empty when absent).
    pub(crate) media_type: String,
    /// The bytes, unverified.
    pub(crate) bytes: Vec<u8>,
}

/// One registry, as this node may reach it.
pub(crate) struct RegistryClient {
    /// `host[:port]`.
    registry: String,
    /// Whether plain http is allowed (Docker's insecure registries).
    insecure: bool,
    credentials: Option<Credentials>,
    transport: Transport,
    /// `https` or `http`, once the first request found which one works.
    scheme: Mutex<Option<&'static str>>,
    /// The `Authorization` the last challenge was answered with.
    authorization: Mutex<Option<HeaderValue>>,
}

impl RegistryClient {
    /// A client for `registry` (`host[:port]`) with this node's `access`.
    pub(crate) fn new(registry: &str, access: &RegistryAccess) -> Result<Self, RegistryError> {
        Ok(Self {
            registry: registry.to_owned(),
            insecure: access.insecure.contains(registry),
            credentials: access.credentials.clone(),
            transport: Transport::new(registry, access)?,
            scheme: Mutex::new(None),
            authorization: Mutex::new(None),
        })
    }

    /// `GET /v2/` with the login: what `shoal login` checks.
    pub(crate) async fn ping(&self) -> Result<(), RegistryError> {
        let (url, response) = self.get("/v2/", None, None).await?;
        check_status(&url, response).await.map(drop)
    }

    /// `GET /v2/<repository>/manifests/<reference>` accepting OCI and
    /// Docker schema 2 manifests and indexes.
    pub(crate) async fn manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<FetchedManifest, RegistryError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let accept = [
            MEDIA_MANIFEST,
            MEDIA_INDEX,
            MEDIA_DOCKER_MANIFEST,
            MEDIA_DOCKER_LIST,
        ]
        .join(", ");
        let (url, response) = self.get(&path, Some(&accept), Some(repository)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::ManifestUnknown {
                reference: format!("{}/{repository}:{reference}", self.registry),
            });
        }
        let response = check_status(&url, response).await?;
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
            .unwrap_or_default();
        let bytes = read_limited(&url, response, MAX_MANIFEST_BYTES)
            .await
            .map_err(|err| match err {
                RegistryError::ManifestTooLarge { .. } => RegistryError::ManifestTooLarge {
                    reference: reference.to_owned(),
                },
                other => other,
            })?;
        Ok(FetchedManifest { media_type, bytes })
    }

    /// Downloads blob `digest` into `path`, stopping once more than
    /// `limit` bytes came (the caller checks size and digest).
    pub(crate) async fn blob_to_file(
        &self,
        repository: &str,
        digest: &Digest,
        path: &Path,
        limit: u64,
    ) -> Result<(), RegistryError> {
        let blob = format!("/v2/{repository}/blobs/{digest}");
        let (url, response) = self.get(&blob, None, Some(repository)).await?;
        let response = check_status(&url, response).await?;
        let write_err = |source| RegistryError::Write {
            path: path.to_owned(),
            source,
        };
        // Plain std writes: pulls run on a thread of their own.
        let mut file = std::fs::File::create(path).map_err(write_err)?;
        let mut body = response.into_body();
        let mut written = 0u64;
        while let Some(chunk) = next_chunk(&url, &mut body).await? {
            file.write_all(&chunk).map_err(write_err)?;
            written += chunk.len() as u64;
            if written > limit {
                break;
            }
        }
        file.sync_all().map_err(write_err)
    }

    /// `GET <registry><path>`, answering one auth challenge: the URL
    /// finally requested and its response.
    async fn get(
        &self,
        path: &str,
        accept: Option<&str>,
        repository: Option<&str>,
    ) -> Result<(String, Response<Incoming>), RegistryError> {
        let url = self.url(path).await?;
        let response = self.get_following(&url, accept).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok((url, response));
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(auth::parse_challenge);
        let login_required = || RegistryError::LoginRequired {
            url: url.clone(),
            registry: self.registry.clone(),
        };
        let Some(challenge) = challenge else {
            return Err(login_required());
        };
        let scope = repository.map(|repo| format!("repository:{repo}:pull"));
        let header = auth::authorize(
            &self.transport,
            &challenge,
            self.credentials.as_ref(),
            self.insecure,
            scope.as_deref(),
        )
        .await?
        .ok_or_else(login_required)?;
        *lock(&self.authorization) = Some(header);
        let response = self.get_following(&url, accept).await?;
        match (response.status(), &self.credentials) {
            (StatusCode::UNAUTHORIZED, None) => Err(login_required()),
            (StatusCode::UNAUTHORIZED, Some(_)) => Err(RegistryError::CredentialsRefused { url }),
            _ => Ok((url, response)),
        }
    }

    /// The URL of `path`: https, or http for an insecure registry whose
    /// port does not speak TLS (found out once, on the first request).
    async fn url(&self, path: &str) -> Result<String, RegistryError> {
        if let Some(scheme) = *lock(&self.scheme) {
            return Ok(format!("{scheme}://{}{path}", self.registry));
        }
        let https = format!("https://{}/v2/", self.registry);
        let scheme = match self.transport.get(&https, &[]).await {
            Ok(_) => "https",
            Err(RegistryError::Tls { .. }) if self.insecure => "http",
            Err(err) => return Err(err),
        };
        *lock(&self.scheme) = Some(scheme);
        Ok(format!("{scheme}://{}{path}", self.registry))
    }

    /// `GET url`, following redirects; the login goes only to the
    /// registry itself, never to where it redirects.
    async fn get_following(
        &self,
        url: &str,
        accept: Option<&str>,
    ) -> Result<Response<Incoming>, RegistryError> {
        let mut current = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let headers = self.headers_for(&current, accept);
            let response = self.transport.get(&current, &headers).await?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| RegistryError::BadRedirect {
                    url: current.clone(),
                    reason: "no Location header",
                })?;
            current = redirect::redirect_target(&current, location, self.insecure)?;
        }
        Err(RegistryError::BadRedirect {
            url: url.to_owned(),
            reason: "too many redirects",
        })
    }

    fn headers_for(&self, url: &str, accept: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = Vec::new();
        if let Some(accept) = accept.and_then(|a| HeaderValue::from_str(a).ok()) {
            headers.push((ACCEPT, accept));
        }
        let to_registry = url
            .parse::<Uri>()
            .ok()
            .and_then(|uri| uri.authority().map(|a| a.as_str() == self.registry))
            .unwrap_or(false);
        if to_registry && let Some(header) = lock(&self.authorization).clone() {
            headers.push((AUTHORIZATION, header));
        }
        headers
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The whole body of `response`, refused past `limit` bytes.
async fn read_limited(
    url: &str,
    response: Response<Incoming>,
    limit: u64,
) -> Result<Vec<u8>, RegistryError> {
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = next_chunk(url, &mut body).await? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > limit {
            return Err(RegistryError::ManifestTooLarge {
                reference: url.to_owned(),
            });
        }
    }
    Ok(bytes)
}

/// The next data chunk of `body`, `None` at its end.
async fn next_chunk(url: &str, body: &mut Incoming) -> Result<Option<Bytes>, RegistryError> {
    loop {
        let frame =
            timeout(IO_TIMEOUT, body.frame())
                .await
                .map_err(|_| RegistryError::Timeout {
                    url: url.to_owned(),
                })?;
        let Some(frame) = frame else {
            return Ok(None);
        };
        let frame = frame.map_err(|source| RegistryError::Http {
            url: url.to_owned(),
            source,
        })?;
        if let Ok(data) = frame.into_data() {
            return Ok(Some(data));
        }
    }
}

/// Passes a 2xx response; maps other statuses to errors.
async fn check_status(
    url: &str,
    response: Response<Incoming>,
) -> Result<Response<Incoming>, RegistryError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let mut body = response.into_body();
    let message = match next_chunk(url, &mut body).await {
        Ok(Some(chunk)) => String::from_utf8_lossy(&chunk[..chunk.len().min(300)])
            .trim()
            .to_owned(),
        _ => String::new(),
    };
    Err(RegistryError::Status {
        url: url.to_owned(),
        status: status.as_u16(),
        message,
    })
}

/// Checks that `access.credentials` log in to `registry` (`GET /v2/`),
/// as `docker login` does before it stores them.
pub async fn check_login(registry: &str, access: &RegistryAccess) -> Result<(), RegistryError> {
    RegistryClient::new(registry, access)?.ping().await
}
