//! Frames of the control RPC: `length (u32 BE) || JSON`.

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
