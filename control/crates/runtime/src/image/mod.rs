//! The node's image store: content-addressed blobs, layers unpacked once,
//! names; `load` of OCI layout archives and `docker save` tarballs with
//! every blob verified; `pull` from an OCI distribution registry; a builder for small busybox images.

mod access;
mod archive;
mod build;
mod digest;
mod docker;
mod error;
mod layer;
mod oci;
mod pin;
mod pull;
mod query;
mod reference;
mod registry;
mod remove;
mod store;
mod types;

use std::path::{Path, PathBuf};

pub use access::{
    AccessError, CredentialStore, Credentials, InsecureRegistries, RegistryAccess, SYSTEM_CA_BUNDLE,
};
pub use build::{
    BUSYBOX_APPLETS, BUSYBOX_PATH, BuiltBlobs, ExtraFile, ImageBuilder, LayerBuilder,
    build_busybox_image,
};
pub use digest::Digest;
pub use error::ImageError;
pub use pin::{pin_image, registry_of, resolve_digest};
pub use pull::{PARALLEL_BLOBS, PulledImage};
pub use reference::{Reference, Target};
pub use registry::{RegistryError, check_login};
pub use remove::{RemovedImages, prunable};
pub use store::{Image, ImageStore, ImageSummary, LoadedImage};
pub use types::{
    Descriptor, ExecConfig, ImageConfigFile, ImageName, Index, Manifest, Platform, RootFs,
};

/// An image read from an archive, verified but not yet in the store.
#[derive(Debug)]
pub(crate) struct PendingImage {
    /// Names it is loaded under.
    names: Vec<ImageName>,
    /// Digest of `manifest_bytes`.
    manifest_digest: Digest,
    /// The manifest as stored.
    manifest_bytes: Vec<u8>,
    /// The manifest parsed.
    manifest: Manifest,
    /// The image config.
    config: ImageConfigFile,
    /// Config and layer blobs: digest and staged file.
    blobs: Vec<(Digest, PathBuf)>,
}

impl PendingImage {
    /// The staged file of one of its blobs.
    fn blob_path(&self, digest: &Digest) -> Result<&Path, ImageError> {
        self.blobs
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, p)| p.as_path())
            .ok_or_else(|| ImageError::MissingBlob {
                name: digest.to_string(),
            })
    }
}

#[cfg(test)]
mod pin_tests;
#[cfg(test)]
mod pull_tests;
#[cfg(test)]
mod tests;
