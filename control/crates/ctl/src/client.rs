//! Calling a manager: one-off bootstrap calls and a pool of mTLS
//! connections reused across calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::wire::{read_frame, write_frame};
use super::{ALPN_CTL, CtlError, CtlReply, CtlRequest};
use shoal_security::ca::CaDigest;
use shoal_security::tls::{MANAGER_SERVER_NAME, TlsError, bootstrap_client_config};

/// Longest a TCP connect plus TLS handshake may take by default.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one call may take: to connect (TCP plus TLS), and to be
/// answered once the request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Connect and handshake.
    pub connect: Duration,
    /// From sending the request to its answer.
    pub answer: Duration,
}

impl CallLimits {
    /// `answer` with the default connect timeout (3 s).
    pub const fn answer_within(answer: Duration) -> Self {
        Self {
            connect: CONNECT_TIMEOUT,
            answer,
        }
    }
}

/// Whether a handshake failed because our pinned-CA verifier refused.
fn is_ca_mismatch(err: &std::io::Error) -> bool {
    let Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return false;
    };
    matches!(
        other.0.downcast_ref::<TlsError>(),
        Some(TlsError::CaDigestMismatch { .. })
    )
}

/// Whether the peer's certificate is not valid for the name we asked for:
/// when we ask for a manager, the peer is a worker (same CA, other role).
fn is_wrong_role(err: &std::io::Error) -> bool {
    matches!(
        err.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. }
        ))
    )
}

/// Connects to `addr` with `config` (which must offer [`ALPN_CTL`]) within
/// `timeout` and checks that the peer speaks the control protocol.
pub async fn connect(
    config: Arc<rustls::ClientConfig>,
    addr: &str,
    pinned: Option<CaDigest>,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, CtlError> {
    connect_named(config, addr, MANAGER_SERVER_NAME, pinned, timeout).await
}

/// [`connect`] to a peer that must present a certificate for `server_name`
/// (`swarm-manager` for any manager, a node ID for that node).
async fn connect_named(
    config: Arc<rustls::ClientConfig>,
    addr: &str,
    server_name: &str,
    pinned: Option<CaDigest>,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, CtlError> {
    let handshake = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| CtlError::Connect {
                addr: addr.to_owned(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let name =
            ServerName::try_from(server_name.to_owned()).map_err(|e| CtlError::Handshake {
                addr: addr.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
            })?;
        TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|source| match pinned {
                Some(pinned) if is_ca_mismatch(&source) => CtlError::CaMismatch {
                    addr: addr.to_owned(),
                    pinned,
                },
                _ if server_name == shoal_security::tls::MANAGER_SERVER_NAME
                    && is_wrong_role(&source) =>
                {
                    CtlError::NotManager {
                        addr: addr.to_owned(),
                    }
                }
                _ => CtlError::Handshake {
                    addr: addr.to_owned(),
                    source,
                },
            })
    };
    let stream = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| CtlError::ConnectTimeout {
            addr: addr.to_owned(),
            timeout,
        })??;
    if stream.get_ref().1.alpn_protocol() != Some(ALPN_CTL) {
        return Err(CtlError::NotManager {
            addr: addr.to_owned(),
        });
    }
    Ok(stream)
}

/// Sends one request on `stream` and reads the answer within `timeout`.
async fn exchange(
    stream: &mut TlsStream<TcpStream>,
    addr: &str,
    request: &CtlRequest,
    timeout: Duration,
) -> Result<serde_json::Value, CtlError> {
    let call = async {
        write_frame(stream, addr, request).await?;
        read_frame::<_, CtlReply>(stream, addr).await
    };
    let reply = tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| CtlError::Timeout {
            addr: addr.to_owned(),
            timeout,
        })??;
    reply.map_err(|failure| CtlError::Remote {
        status: failure.status,
        message: failure.message,
    })
}

/// One call to a manager trusted only through the join token's CA digest,
/// without a client certificate (`swarm join`).
pub async fn bootstrap_call(
    addr: &str,
    pinned: CaDigest,
    request: &CtlRequest,
    timeout: Duration,
) -> Result<serde_json::Value, CtlError> {
    let config = bootstrap_client_config(pinned).map_err(|e| CtlError::Handshake {
        addr: addr.to_owned(),
        source: std::io::Error::other(e),
    })?;
    let mut config = (*config).clone();
    config.alpn_protocols = vec![ALPN_CTL.to_vec()];
    let mut stream = connect(Arc::new(config), addr, Some(pinned), CONNECT_TIMEOUT).await?;
    exchange(&mut stream, addr, request, timeout).await
}

/// mTLS connections to managers, kept open between calls (the heartbeat
/// session) and re-established after any failure.
pub struct CtlPool {
    config: Arc<rustls::ClientConfig>,
    idle: Mutex<HashMap<String, Vec<TlsStream<TcpStream>>>>,
    /// Bumped by [`Self::clear`]: a connection opened before (busy during
    /// the clear) is not pooled again.
    generation: AtomicU64,
}

impl std::fmt::Debug for CtlPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtlPool").finish_non_exhaustive()
    }
}

impl CtlPool {
    /// A pool connecting with `config` (mTLS, offering [`ALPN_CTL`]).
    pub fn new(config: Arc<rustls::ClientConfig>) -> Self {
        Self {
            config,
            idle: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn take(&self, addr: &str) -> Option<TlsStream<TcpStream>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.get_mut(addr).and_then(Vec::pop)
    }

    fn put(&self, addr: &str, stream: TlsStream<TcpStream>, generation: u64) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if generation == self.generation.load(Ordering::SeqCst) {
            idle.entry(addr.to_owned()).or_default().push(stream);
        }
    }

    /// Sends `request` to the manager at `addr`, to be answered within
    /// `timeout`.
    pub async fn call(
        &self,
        addr: &str,
        request: &CtlRequest,
        timeout: Duration,
    ) -> Result<serde_json::Value, CtlError> {
        self.call_within(addr, request, CallLimits::answer_within(timeout))
            .await
    }

    /// Sends `request` to the manager at `addr` within `limits`.
    pub async fn call_within(
        &self,
        addr: &str,
        request: &CtlRequest,
        limits: CallLimits,
    ) -> Result<serde_json::Value, CtlError> {
        self.call_as(addr, MANAGER_SERVER_NAME, request, limits)
            .await
    }

    /// Sends `request` to node `node_id` at `addr`, manager or worker (its
    /// certificate must name `node_id`): how a manager reaches the node a
    /// task runs on ([`CtlRequest::TaskLogs`]).
    pub async fn call_node(
        &self,
        addr: &str,
        node_id: &str,
        request: &CtlRequest,
        timeout: Duration,
    ) -> Result<serde_json::Value, CtlError> {
        let limits = CallLimits::answer_within(timeout);
        self.call_as(addr, node_id, request, limits).await
    }

    /// A reused connection found broken (the peer may have restarted) is
    /// replaced by a fresh one and the request sent again; a request that
    /// went unanswered in time is not sent again (the peer may still act
    /// on it).
    async fn call_as(
        &self,
        addr: &str,
        server_name: &str,
        request: &CtlRequest,
        limits: CallLimits,
    ) -> Result<serde_json::Value, CtlError> {
        // Connections are pooled per address and expected peer.
        let key = format!("{server_name}@{addr}");
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(mut stream) = self.take(&key) {
            match exchange(&mut stream, addr, request, limits.answer).await {
                Ok(value) => {
                    self.put(&key, stream, generation);
                    return Ok(value);
                }
                Err(err @ CtlError::Remote { .. }) => {
                    self.put(&key, stream, generation);
                    return Err(err);
                }
                Err(err @ CtlError::Timeout { .. }) => return Err(err),
                Err(_) => {}
            }
        }
        let mut stream =
            connect_named(self.config.clone(), addr, server_name, None, limits.connect).await?;
        let result = exchange(&mut stream, addr, request, limits.answer).await;
        if matches!(result, Ok(_) | Err(CtlError::Remote { .. })) {
            self.put(&key, stream, generation);
        }
        result
    }

    /// Drops every idle connection, and every busy one once its call is
    /// done (after a certificate renewal: the next calls present the new
    /// certificate).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
