//! A minimal client of the OCI distribution API (`GET /v2/<name>/manifests/<ref>`,
//! `GET /v2/<name>/blobs/<digest>`): anonymous, plain http (see
//! [`super::reference::Reference::plain_http`]), one connection per
//! request, redirects followed (registries may send blobs elsewhere).
//! Verifying what it fetches is the caller's job.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt as _, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::Digest;
use super::reference::Reference;
use super::types::{MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST, MEDIA_INDEX, MEDIA_MANIFEST};

/// Connecting, and waiting for response headers or the next body chunk,
/// give up after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 5;
/// Largest manifest or index accepted.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// Why a registry request failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry is not one shoal can speak to.
    #[error(
        "https registries are not supported yet: shoal pulls over plain http from localhost or an IP address (host:port/name)"
    )]
    HttpsUnsupported,
    /// No TCP connection (retryable).
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        /// `host:port`.
        authority: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed (retryable).
    #[error("HTTP exchange for {url} failed: {source}")]
    Http {
        /// The URL requested.
        url: String,
        /// hyper's error.
        source: hyper::Error,
    },
    /// The registry went silent (retryable).
    #[error("no answer for {url} within {}s", IO_TIMEOUT.as_secs())]
    Timeout {
        /// The URL requested.
        url: String,
    },
    /// The request could not be built (a malformed name or redirect).
    #[error("cannot request {url}: {source}")]
    Request {
        /// The URL.
        url: String,
        /// The http crate's error.
        source: hyper::http::Error,
    },
    /// The registry wants credentials; shoal has none to give.
    #[error(
        "{url} requires authentication (401): shoal pulls anonymously and has no registry login"
    )]
    Unauthorized {
        /// The URL requested.
        url: String,
    },
    /// The registry has no such manifest (a tag or digest it lacks).
    #[error("manifest unknown: {reference} is not in the registry")]
    ManifestUnknown {
        /// The reference pulled.
        reference: String,
    },
    /// A redirect without a usable `Location`, or too many of them.
    #[error("bad redirect from {url}: {reason}")]
    BadRedirect {
        /// The URL that redirected.
        url: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// Any other unexpected status.
    #[error("{url} answered {status}: {message}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the registry's error body.
        message: String,
    },
    /// A manifest larger than [`MAX_MANIFEST_BYTES`].
    #[error("manifest {reference} exceeds {MAX_MANIFEST_BYTES} bytes")]
    ManifestTooLarge {
        /// The reference fetched.
        reference: String,
    },
    /// A downloaded blob could not be written.
    #[error("write {path}: {source}")]
    Write {
        /// The staging file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl RegistryError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Http { .. } | Self::Timeout { .. }
        )
    }
}

/// A manifest or index as served.
#[derive(Debug)]
pub(crate) struct FetchedManifest {
    /// `Content-Type` without parameters (empty when absent).
    pub(crate) media_type: String,
    /// The bytes, unverified.
    pub(crate) bytes: Vec<u8>,
}

/// The registry of one reference.
#[derive(Debug)]
pub(crate) struct RegistryClient {
    registry: String,
}

impl RegistryClient {
    /// A client for `reference`'s registry, if shoal can speak to it.
    pub(crate) fn new(reference: &Reference) -> Result<Self, RegistryError> {
        if !reference.plain_http() {
            return Err(RegistryError::HttpsUnsupported);
        }
        Ok(Self {
            registry: reference.registry.clone(),
        })
    }

    fn url(&self, repository: &str, kind: &str, reference: &str) -> String {
        format!(
            "http://{}/v2/{repository}/{kind}/{reference}",
            self.registry
        )
    }

    /// `GET /v2/<repository>/manifests/<reference>` accepting OCI and
    /// Docker schema 2 manifests and indexes.
    pub(crate) async fn manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<FetchedManifest, RegistryError> {
        let url = self.url(repository, "manifests", reference);
        let accept = [
            MEDIA_MANIFEST,
            MEDIA_INDEX,
            MEDIA_DOCKER_MANIFEST,
            MEDIA_DOCKER_LIST,
        ]
        .join(", ");
        let response = get(&url, Some(&accept)).await?;
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
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(chunk) = next_chunk(&url, &mut body).await? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > MAX_MANIFEST_BYTES {
                return Err(RegistryError::ManifestTooLarge {
                    reference: reference.to_owned(),
                });
            }
        }
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
        let url = self.url(repository, "blobs", &digest.to_string());
        let response = check_status(&url, get(&url, None).await?).await?;
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

/// Passes a 2xx response; maps 401 and other failures to errors.
async fn check_status(
    url: &str,
    response: Response<Incoming>,
) -> Result<Response<Incoming>, RegistryError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == StatusCode::UNAUTHORIZED {
        return Err(RegistryError::Unauthorized {
            url: url.to_owned(),
        });
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

/// `GET url`, following redirects to other plain-http locations.
async fn get(url: &str, accept: Option<&str>) -> Result<Response<Incoming>, RegistryError> {
    let mut current = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let response = get_once(&current, accept).await?;
        if !response.status().is_redirection() {
            return Ok(response);
        }
        let bad = |reason| RegistryError::BadRedirect {
            url: current.clone(),
            reason,
        };
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| bad("no Location header"))?;
        let next: Uri = location.parse().map_err(|_| bad("unparsable Location"))?;
        current = match (next.scheme_str(), next.authority()) {
            (Some("http"), Some(_)) => next.to_string(),
            (None, None) => {
                let base: Uri = current.parse().map_err(|_| bad("unparsable URL"))?;
                let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
                format!("http://{authority}{location}")
            }
            (Some("https"), _) => return Err(RegistryError::HttpsUnsupported),
            _ => return Err(bad("unsupported Location")),
        };
    }
    Err(RegistryError::BadRedirect {
        url: url.to_owned(),
        reason: "too many redirects",
    })
}

/// One `GET` on a fresh connection.
async fn get_once(url: &str, accept: Option<&str>) -> Result<Response<Incoming>, RegistryError> {
    let request_err = |source| RegistryError::Request {
        url: url.to_owned(),
        source,
    };
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| request_err(e.into()))?;
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let port = uri.port_u16().map_or(":80", |_| "");
    let timed_out = || RegistryError::Timeout {
        url: url.to_owned(),
    };
    let stream = timeout(IO_TIMEOUT, TcpStream::connect(format!("{authority}{port}")))
        .await
        .map_err(|_| timed_out())?
        .map_err(|source| RegistryError::Connect {
            authority: authority.clone(),
            source,
        })?;
    let http_err = |source| RegistryError::Http {
        url: url.to_owned(),
        source,
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_err)?;
    tokio::spawn(connection);
    // Origin-form: the path, not the absolute URL.
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = Request::get(target)
        .header(HOST, &authority)
        .header(USER_AGENT, concat!("shoal/", env!("CARGO_PKG_VERSION")));
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let request = request.body(Empty::<Bytes>::new()).map_err(request_err)?;
    timeout(IO_TIMEOUT, sender.send_request(request))
        .await
        .map_err(|_| timed_out())?
        .map_err(http_err)
}
