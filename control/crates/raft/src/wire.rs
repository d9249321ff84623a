//! The raft RPC wire format: one request, one response, each a frame of
//! `header length (u32 BE) || payload length (u32 BE) || JSON header ||
//! raw payload`. Only snapshot chunks use the payload, so their bytes are
//! not inflated by JSON; the chunk size bounds every frame.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::StoreError;
use super::typ;

/// Largest header we accept (an AppendEntries batch).
pub const MAX_HEADER_LEN: u32 = 64 * 1024 * 1024;
/// Largest payload we accept (a snapshot chunk).
pub const MAX_PAYLOAD_LEN: u32 = 64 * 1024 * 1024;

/// A raft RPC.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Replicate entries or heartbeat.
    AppendEntries(typ::AppendEntriesRequest),
    /// Request a vote.
    Vote(typ::VoteRequest),
    /// One snapshot chunk (its `data` travels as the frame payload).
    InstallSnapshot(typ::InstallSnapshotRequest),
}

/// The answer to a [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// Answer to AppendEntries.
    AppendEntries(Result<typ::AppendEntriesResponse, typ::RaftError>),
    /// Answer to Vote.
    Vote(Result<typ::VoteResponse, typ::RaftError>),
    /// Answer to one snapshot chunk.
    InstallSnapshot(
        Result<typ::InstallSnapshotResponse, typ::RaftError<typ::InstallSnapshotError>>,
    ),
    /// The server refused the connection's peer; it closes after this.
    Denied {
        /// Why (the authorisation error, as text for the peer's log).
        reason: String,
    },
}

/// Writes one request; a snapshot chunk's data goes out as the payload.
pub(crate) async fn write_request<W: AsyncWrite + Unpin>(
    writer: &mut W,
    request: &Request,
) -> Result<(), std::io::Error> {
    let (header, payload) = match request {
        Request::InstallSnapshot(chunk) => {
            let without_data = Request::InstallSnapshot(typ::InstallSnapshotRequest {
                vote: chunk.vote,
                meta: chunk.meta.clone(),
                offset: chunk.offset,
                data: Vec::new(),
                done: chunk.done,
            });
            (serde_json::to_vec(&without_data), chunk.data.as_slice())
        }
        _ => (serde_json::to_vec(request), &[][..]),
    };
    let header = header.map_err(std::io::Error::other)?;
    write_frame(writer, &header, payload).await
}

/// Reads one request, putting a snapshot chunk's payload back in place.
pub(crate) async fn read_request<R: AsyncRead + Unpin>(
    reader: &mut R,
    peer: &str,
) -> Result<Request, StoreError> {
    let (header, payload) = read_frame(reader, peer).await?;
    let mut request: Request =
        serde_json::from_slice(&header).map_err(StoreError::codec("raft request"))?;
    if let Request::InstallSnapshot(chunk) = &mut request {
        chunk.data = payload;
    }
    Ok(request)
}

/// Writes one reply.
pub(crate) async fn write_reply<W: AsyncWrite + Unpin>(
    writer: &mut W,
    reply: &Reply,
) -> Result<(), std::io::Error> {
    let header = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    write_frame(writer, &header, &[]).await
}

/// Reads one reply.
pub(crate) async fn read_reply<R: AsyncRead + Unpin>(
    reader: &mut R,
    peer: &str,
) -> Result<Reply, StoreError> {
    let (header, _payload) = read_frame(reader, peer).await?;
    serde_json::from_slice(&header).map_err(StoreError::codec("raft reply"))
}

async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    header: &[u8],
    payload: &[u8],
) -> Result<(), std::io::Error> {
    let header_len = u32::try_from(header.len()).map_err(std::io::Error::other)?;
    let payload_len = u32::try_from(payload.len()).map_err(std::io::Error::other)?;
    let mut prefix = [0u8; 8];
    prefix[..4].copy_from_slice(&header_len.to_be_bytes());
    prefix[4..].copy_from_slice(&payload_len.to_be_bytes());
    writer.write_all(&prefix).await?;
    writer.write_all(header).await?;
    writer.write_all(payload).await?;
    writer.flush().await
}

async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    peer: &str,
) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
    let io = |source| StoreError::Transport {
        addr: peer.to_owned(),
        source,
    };
    let header_len = reader.read_u32().await.map_err(io)?;
    let payload_len = reader.read_u32().await.map_err(io)?;
    for (len, max) in [(header_len, MAX_HEADER_LEN), (payload_len, MAX_PAYLOAD_LEN)] {
        if len > max {
            return Err(StoreError::FrameTooLarge {
                len: u64::from(len),
                max: u64::from(max),
            });
        }
    }
    let mut header = vec![0u8; header_len as usize];
    reader.read_exact(&mut header).await.map_err(io)?;
    let mut payload = vec![0u8; payload_len as usize];
    reader.read_exact(&mut payload).await.map_err(io)?;
    Ok((header, payload))
}
