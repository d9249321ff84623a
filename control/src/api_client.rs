//! The CLI's client: HTTP/1.1 over the daemon's Unix socket.

use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use crate::api::ErrorBody;

/// Failures talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The socket could not be reached.
    #[error(
        "cannot connect to the shoal daemon at unix://{}: is the daemon running?",
        path.display()
    )]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP exchange with the daemon failed")]
    Http {
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// The request could not be built.
    #[error("cannot build request")]
    Request {
        /// The http crate's error.
        #[source]
        source: hyper::http::Error,
    },
    /// The daemon answered with an error; `message` is its own text.
    #[error("{message}")]
    Daemon {
        /// HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// A body could not be encoded or decoded.
    #[error("cannot encode or decode the API body")]
    Codec {
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}

/// A client for one daemon socket.
#[derive(Debug, Clone)]
pub struct ApiClient {
    socket: PathBuf,
}

impl ApiClient {
    /// A client for the daemon listening on `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.call(Method::GET, path, None::<&()>).await
    }

    /// `POST path` with a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.call(Method::DELETE, path, None::<&()>).await
    }

    /// `POST path` with a raw body (`image load`'s archive) of type
    /// `content_type`; the answer is JSON.
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<T, ApiError> {
        self.send(Method::POST, path, body, content_type).await
    }

    /// One request; an error status becomes [`ApiError::Daemon`].
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let bytes = match body {
            Some(body) => serde_json::to_vec(body).map_err(|source| ApiError::Codec { source })?,
            None => Vec::new(),
        };
        self.send(method, path, bytes, "application/json").await
    }

    /// `GET path` answered by a stream (`service logs --follow`): the body
    /// to read as it comes; an error status becomes [`ApiError::Daemon`].
    pub async fn get_stream(&self, path: &str) -> Result<Incoming, ApiError> {
        let response = self
            .exchange(Method::GET, path, Vec::new(), "application/json")
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response.into_body());
        }
        Err(daemon_error(status, &read_body(response).await?))
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<T, ApiError> {
        let response = self.exchange(method, path, bytes, content_type).await?;
        let status = response.status();
        decode(status, &read_body(response).await?)
    }

    /// One request on a new connection: the response, body unread.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<Response<Incoming>, ApiError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| ApiError::Connect {
                    path: self.socket.clone(),
                    source,
                })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|source| ApiError::Http { source })?;
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "shoal")
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|source| ApiError::Request { source })?;
        sender
            .send_request(request)
            .await
            .map_err(|source| ApiError::Http { source })
    }
}

fn decode<T: DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T, ApiError> {
    if status.is_success() {
        return serde_json::from_slice(body).map_err(|source| ApiError::Codec { source });
    }
    Err(daemon_error(status, body))
}

/// The daemon's error answer: its message, else the status.
fn daemon_error(status: StatusCode, body: &[u8]) -> ApiError {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| format!("daemon answered {status}"));
    ApiError::Daemon {
        status: status.as_u16(),
        message,
    }
}

/// A response's whole body.
async fn read_body(response: Response<Incoming>) -> Result<Bytes, ApiError> {
    Ok(response
        .into_body()
        .collect()
        .await
        .map_err(|source| ApiError::Http { source })?
        .to_bytes())
}
