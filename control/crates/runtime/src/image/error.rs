//! Errors of the [`crate::image`] module.

use std::io;
use std::path::PathBuf;

use super::Digest;
use super::registry::RegistryError;

/// Why an image could not be loaded, built, found or listed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("read", "create", ...).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The archive itself could not be read (truncated or not a tar file).
    #[error("cannot read image archive {path}: {source}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// The underlying error (often an unexpected end of file).
        source: io::Error,
    },
    /// The archive is neither an OCI image layout nor a `docker save` tarball.
    #[error("{path} is not an image archive: no oci-layout/index.json nor manifest.json")]
    UnknownFormat {
        /// The archive.
        path: PathBuf,
    },
    /// An entry's path would land outside the directory it is unpacked in.
    #[error("unsafe path {entry:?} in {container}: entries must stay inside it")]
    UnsafePath {
        /// The archive or layer holding the entry.
        container: String,
        /// The entry's path as written in the tar header.
        entry: String,
    },
    /// An archive entry of a type that has no business there.
    #[error("unsupported entry {entry:?} ({kind}) in {container}")]
    UnsupportedEntry {
        /// The archive or layer holding the entry.
        container: String,
        /// The entry's path.
        entry: String,
        /// The entry type.
        kind: String,
    },
    /// A JSON document of the archive is malformed.
    #[error("malformed {document}: {source}")]
    Json {
        /// Which document ("index.json", "manifest sha256:...", ...).
        document: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A string that should be a `sha256:<64 hex>` digest is not.
    #[error("invalid digest {value:?}: expected sha256:<64 lowercase hex digits>")]
    BadDigest {
        /// The offending string.
        value: String,
    },
    /// A blob's content does not hash to its name or descriptor.
    #[error("blob {blob} is corrupt: expected {expected}, content hashes to {actual}")]
    DigestMismatch {
        /// The blob (path in the archive).
        blob: String,
        /// The digest it should have.
        expected: Digest,
        /// The digest of its content.
        actual: Digest,
    },
    /// A blob's size differs from its descriptor.
    #[error("blob {digest} has {actual} bytes, its descriptor says {expected}")]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// Size in the descriptor.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// A blob or file the manifests refer to is not in the archive.
    #[error("missing blob {name} in the archive")]
    MissingBlob {
        /// Digest or path of the missing blob.
        name: String,
    },
    /// An uncompressed layer does not match the image config's `diff_ids`.
    #[error("layer {index} ({layer}) unpacks to {actual}, the image config says {expected}")]
    DiffIdMismatch {
        /// Zero-based layer position.
        index: usize,
        /// The layer blob.
        layer: Digest,
        /// The diff id in the config.
        expected: Digest,
        /// The digest of the uncompressed layer.
        actual: Digest,
    },
    /// The manifest and the config disagree on the number of layers.
    #[error("image has {layers} layers but its config lists {diff_ids} diff_ids")]
    LayerCount {
        /// Layers in the manifest.
        layers: usize,
        /// diff_ids in the config.
        diff_ids: usize,
    },
    /// A media type or compression this store cannot handle.
    #[error("unsupported {what}: {value}")]
    Unsupported {
        /// What kind of thing ("media type", "layer compression", ...).
        what: &'static str,
        /// The value found.
        value: String,
    },
    /// A layer tar could not be unpacked.
    #[error("cannot unpack layer {layer}: {source}")]
    Unpack {
        /// The layer blob.
        layer: Digest,
        /// The underlying error (a truncated layer shows up here).
        source: io::Error,
    },
    /// The archive holds no image.
    #[error("{path} holds no image")]
    Empty {
        /// The archive.
        path: PathBuf,
    },
    /// An image reference is malformed.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference given.
        reference: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No image matches the reference.
    #[error("no such image: {reference}")]
    NotFound {
        /// The reference given.
        reference: String,
    },
    /// A short image id matches several images.
    #[error("image id {reference} is ambiguous")]
    Ambiguous {
        /// The reference given.
        reference: String,
    },
    /// A registry refused or failed a pull.
    #[error("registry {registry}: {source}")]
    Registry {
        /// `host[:port]` of the registry.
        registry: String,
        /// What went wrong.
        source: RegistryError,
    },
    /// `image rm` of an image a container on this node uses.
    #[error("image {reference} is in use by a container on this node")]
    InUse {
        /// The reference given.
        reference: String,
    },
    /// The image's user is a name; only numeric `uid[:gid]` is supported.
    #[error("image user {user:?} is not numeric (uid[:gid])")]
    UnsupportedUser {
        /// The user field of the image config.
        user: String,
    },
}

impl ImageError {
    /// An [`ImageError::Io`] for `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// An [`ImageError::Json`] for `document`.
    pub(crate) fn json(document: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Self {
        let document = document.into();
        move |source| Self::Json { document, source }
    }
}
