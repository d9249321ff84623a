//! Why a registry request failed.

use std::path::PathBuf;

use super::{IO_TIMEOUT, MAX_MANIFEST_BYTES};

/// Why a registry request failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No TCP connection (retryable).
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        /// `host:port`.
        authority: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS handshake failed for another reason than the certificate:
    /// most often a registry that speaks plain http.
    #[error(
        "TLS handshake with {authority} failed: {source} (a registry serving plain http must be marked insecure: shoal daemon --insecure-registry {authority})"
    )]
    Tls {
        /// `host:port`.
        authority: String,
        /// rustls' error, as tokio-rustls reports it.
        source: std::io::Error,
    },
    /// The registry's certificate does not chain to a trusted CA (or does
    /// not name the registry).
    #[error(
        "{authority} presented a certificate shoal does not trust ({reason}): put the registry's CA in <state dir>/certs.d/{authority}/ca.crt"
    )]
    UntrustedCertificate {
        /// `host:port`.
        authority: String,
        /// rustls' verdict (`UnknownIssuer`, `NotValidForName`...).
        reason: String,
    },
    /// An operator CA file could not be read.
    #[error("registry CA {path}: {reason}")]
    CaFile {
        /// The file (or its directory).
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the TLS settings (never with its own provider).
    #[error("TLS settings: {source}")]
    TlsConfig {
        /// rustls' error.
        source: rustls::Error,
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
    /// The registry wants a login and the node has none for it.
    #[error(
        "{url} requires authentication (401) and this node has no login for {registry}: run `shoal login {registry}`"
    )]
    LoginRequired {
        /// The URL requested.
        url: String,
        /// `host[:port]`.
        registry: String,
    },
    /// The registry (or its token service) refused the login.
    #[error("{url} refused the login (401/403): check the user name and password (`shoal login`)")]
    CredentialsRefused {
        /// The URL requested.
        url: String,
    },
    /// A token realm on plain http for a registry that is not insecure:
    /// the login would travel in clear.
    #[error("refusing the token realm {realm}: only insecure registries may use plain http")]
    InsecureRealm {
        /// The realm URL.
        realm: String,
    },
    /// The token service's answer held no token.
    #[error("{url} answered without a token")]
    BadToken {
        /// The token URL.
        url: String,
    },
    /// The registry has no such manifest (a tag or digest it lacks).
    #[error("manifest unknown: {reference} is not in the registry")]
    ManifestUnknown {
        /// The reference pulled.
        reference: String,
    },
    /// A redirect without a usable `Location`, too many of them, or one
    /// to plain http from a registry that is not insecure.
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
