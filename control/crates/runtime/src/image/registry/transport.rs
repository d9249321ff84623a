//! One HTTP/1.1 `GET` on a fresh connection, over TLS (`https://`,
//! verified against the system's CAs plus the operator's for the
//! registry) or plain TCP (`http://`, which only the client's policy
//! decides to use).

use std::path::Path;
use std::sync::Arc;

use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HOST, HeaderValue, USER_AGENT};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::{IO_TIMEOUT, RegistryError};
use crate::image::access::{RegistryAccess, host_of};

/// Connections of one client: its TLS settings.
pub(super) struct Transport {
    tls: TlsConnector,
}

impl Transport {
    /// TLS trusting the system's CAs and every `*.crt` in
    /// `<certs_dir>/<registry>/`.
    pub(super) fn new(registry: &str, access: &RegistryAccess) -> Result<Self, RegistryError> {
        let mut roots = RootCertStore::empty();
        // The system bundle is best effort (a missing or partly odd
        // bundle leaves fewer roots); the operator's CAs must load.
        if let Ok(certs) = CertificateDer::pem_file_iter(&access.system_roots) {
            roots.add_parsable_certificates(certs.flatten());
        }
        if let Some(dir) = &access.certs_dir {
            add_registry_cas(&mut roots, &dir.join(registry))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| RegistryError::TlsConfig { source })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    /// `GET url` with `headers`, on a new connection.
    pub(super) async fn get(
        &self,
        url: &str,
        headers: &[(hyper::header::HeaderName, HeaderValue)],
    ) -> Result<Response<Incoming>, RegistryError> {
        let request_err = |source| RegistryError::Request {
            url: url.to_owned(),
            source,
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| request_err(e.into()))?;
        let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let https = uri.scheme_str() == Some("https");
        let port = match (uri.port_u16(), https) {
            (Some(_), _) => "",
            (None, true) => ":443",
            (None, false) => ":80",
        };
        let tcp = timeout(IO_TIMEOUT, TcpStream::connect(format!("{authority}{port}")))
            .await
            .map_err(|_| RegistryError::Timeout {
                url: url.to_owned(),
            })?
            .map_err(|source| RegistryError::Connect {
                authority: authority.clone(),
                source,
            })?;
        // Origin-form: the path, not the absolute URL.
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = Request::get(target)
            .header(HOST, &authority)
            .header(USER_AGENT, concat!("shoal/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(Empty::<Bytes>::new()).map_err(request_err)?;
        if !https {
            return exchange(url, tcp, request).await;
        }
        let tls = self.handshake(&authority, tcp).await?;
        exchange(url, tls, request).await
    }

    async fn handshake(
        &self,
        authority: &str,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, RegistryError> {
        let tls_err = |source| RegistryError::Tls {
            authority: authority.to_owned(),
            source,
        };
        let name = ServerName::try_from(host_of(authority).to_owned()).map_err(|_| {
            tls_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a DNS name or IP address",
            ))
        })?;
        let connect = self.tls.connect(name, tcp);
        let stream = timeout(IO_TIMEOUT, connect)
            .await
            .map_err(|_| RegistryError::Timeout {
                url: format!("https://{authority}"),
            })?;
        stream.map_err(|source| match rustls_error(&source) {
            Some(rustls::Error::InvalidCertificate(cert)) => RegistryError::UntrustedCertificate {
                authority: authority.to_owned(),
                reason: format!("{cert:?}"),
            },
            _ => tls_err(source),
        })
    }
}

/// The rustls error inside a handshake's I/O error, if it is one.
fn rustls_error(err: &std::io::Error) -> Option<&rustls::Error> {
    err.get_ref()?.downcast_ref::<rustls::Error>()
}

/// Adds every `*.crt` of `dir` (Docker's `certs.d/<registry>/`) to `roots`.
fn add_registry_cas(roots: &mut RootCertStore, dir: &Path) -> Result<(), RegistryError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(RegistryError::CaFile {
                path: dir.to_owned(),
                reason: source.to_string(),
            });
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "crt") {
            continue;
        }
        let bad = |reason: String| RegistryError::CaFile {
            path: path.clone(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(&path).map_err(|e| bad(e.to_string()))?;
        for cert in certs {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(())
}

/// Sends `request` on `stream` (HTTP/1.1, one request).
async fn exchange<S>(
    url: &str,
    stream: S,
    request: Request<Empty<Bytes>>,
) -> Result<Response<Incoming>, RegistryError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http_err = |source| RegistryError::Http {
        url: url.to_owned(),
        source,
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_err)?;
    tokio::spawn(connection);
    timeout(IO_TIMEOUT, sender.send_request(request))
        .await
        .map_err(|_| RegistryError::Timeout {
            url: url.to_owned(),
        })?
        .map_err(http_err)
}
