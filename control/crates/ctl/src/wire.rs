//! Frames of the control RPC: `length (u32 BE) || JSON`.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::CtlError;

/// Largest frame accepted (a join grant with certificates is a few KiB).
pub const MAX_FRAME_LEN: u32 = 4 * 1024 * 1024;

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    writer: &mut W,
    peer: &str,
    value: &T,
) -> Result<(), CtlError> {
    let body = serde_json::to_vec(value).map_err(|source| CtlError::Codec { source })?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|len| *len <= MAX_FRAME_LEN)
        .ok_or(CtlError::FrameTooLarge {
            len: body.len() as u64,
        })?;
    let io = |source| CtlError::Transport {
        addr: peer.to_owned(),
        source,
    };
    writer.write_all(&len.to_be_bytes()).await.map_err(io)?;
    writer.write_all(&body).await.map_err(io)?;
    writer.flush().await.map_err(io)
}

/// Reads one frame.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    reader: &mut R,
    peer: &str,
) -> Result<T, CtlError> {
    let io = |source| CtlError::Transport {
        addr: peer.to_owned(),
        source,
    };
    let len = reader.read_u32().await.map_err(io)?;
    if len > MAX_FRAME_LEN {
        return Err(CtlError::FrameTooLarge {
            len: u64::from(len),
        });
    }
    let mut body = vec![0u8; len as usize];
    reader.read_exact(&mut body).await.map_err(io)?;
    serde_json::from_slice(&body).map_err(|source| CtlError::Codec { source })
}

/// Reads one frame on the serving side of a connection: the frame must
/// start within `idle` (an idle connection is given up) and, once its
/// length has arrived, be read whole within `whole` (a trickling sender
/// is cut off). A timeout is reported as [`CtlError::Timeout`].
pub async fn read_frame_within<R: AsyncRead + Unpin, T: DeserializeOwned>(
    reader: &mut R,
    peer: &str,
    idle: Duration,
    whole: Duration,
) -> Result<T, CtlError> {
    let timed_out = |timeout| CtlError::Timeout {
        addr: peer.to_owned(),
        timeout,
    };
    let io = |source| CtlError::Transport {
        addr: peer.to_owned(),
        source,
    };
    let len = tokio::time::timeout(idle, reader.read_u32())
        .await
        .map_err(|_| timed_out(idle))?
        .map_err(io)?;
    if len > MAX_FRAME_LEN {
        return Err(CtlError::FrameTooLarge {
            len: u64::from(len),
        });
    }
    let mut body = vec![0u8; len as usize];
    tokio::time::timeout(whole, reader.read_exact(&mut body))
        .await
        .map_err(|_| timed_out(whole))?
        .map_err(io)?;
    serde_json::from_slice(&body).map_err(|source| CtlError::Codec { source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_idle_connection_and_a_trickled_frame_are_given_up() {
        let second = Duration::from_millis(50);
        let (mut client, mut server) = tokio::io::duplex(64);
        let idle = read_frame_within::<_, u32>(&mut server, "peer", second, second);
        assert!(matches!(idle.await, Err(CtlError::Timeout { .. })));
        // The length arrives, the body never does.
        client.write_all(&8u32.to_be_bytes()).await.unwrap();
        let trickled = read_frame_within::<_, u32>(&mut server, "peer", second, second);
        assert!(matches!(trickled.await, Err(CtlError::Timeout { .. })));
    }

    #[tokio::test]
    async fn a_frame_over_the_limit_is_refused_before_its_body_is_read() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client
            .write_all(&(MAX_FRAME_LEN + 1).to_be_bytes())
            .await
            .unwrap();
        let second = Duration::from_secs(1);
        let read = read_frame_within::<_, u32>(&mut server, "peer", second, second);
        assert!(matches!(read.await, Err(CtlError::FrameTooLarge { .. })));
    }
}
