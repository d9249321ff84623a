//! Errors of the [`crate`] module.

use std::time::Duration;

/// Failures of a control RPC.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// No TCP connection. Retryable.
    #[error("cannot reach {addr}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The peer's certificate chain does not contain the CA the join token
    /// pins: it is not a manager of the swarm the token belongs to.
    #[error(
        "the node at {addr} does not present the CA the join token pins ({pinned}): refusing to send the token's secret"
    )]
    CaMismatch {
        /// `host:port`.
        addr: String,
        /// The digest in the token.
        pinned: shoal_security::ca::CaDigest,
    },
    /// The TLS handshake failed. Retryable.
    #[error("TLS handshake with {addr} failed")]
    Handshake {
        /// `host:port`.
        addr: String,
        /// The error from the TLS layer.
        #[source]
        source: std::io::Error,
    },
    /// The peer does not speak the control RPC (e.g. not a manager).
    #[error("{addr} does not serve the shoal control protocol (is it a manager?)")]
    NotManager {
        /// `host:port`.
        addr: String,
    },
    /// Reading or writing a frame failed. Retryable.
    #[error("control connection to {addr} failed")]
    Transport {
        /// `host:port`.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No connection and handshake in time (nothing was sent). Retryable.
    #[error("cannot reach {addr} within {timeout:?}")]
    ConnectTimeout {
        /// `host:port`.
        addr: String,
        /// The deadline.
        timeout: Duration,
    },
    /// The request was sent but not answered in time: the peer may still
    /// act on it. Retryable where repeating the request is harmless.
    #[error("{addr} did not answer within {timeout:?}")]
    Timeout {
        /// `host:port`.
        addr: String,
        /// The deadline.
        timeout: Duration,
    },
    /// A frame over [`super::MAX_FRAME_LEN`].
    #[error("control frame of {len} bytes is too large")]
    FrameTooLarge {
        /// Its length.
        len: u64,
    },
    /// A message could not be encoded or decoded.
    #[error("cannot encode or decode a control message")]
    Codec {
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// The peer answered with an error (its own status and message).
    #[error("{message}")]
    Remote {
        /// HTTP-style status.
        status: u16,
        /// The peer's message.
        message: String,
    },
}

impl CtlError {
    /// Whether another attempt (later or elsewhere) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CtlError::Connect { .. }
                | CtlError::ConnectTimeout { .. }
                | CtlError::Handshake { .. }
                | CtlError::Transport { .. }
                | CtlError::Timeout { .. }
        ) || matches!(self, CtlError::Remote { status: 503, .. })
    }
}
