//! Pinning a tag to its manifest digest: what `service create` and
//! `service update` do once, so every task of the spec runs the same
//! image on every node even if the tag moves afterwards.

use super::access::RegistryAccess;
use super::oci::{self, native_manifest};
use super::pull::media_type;
use super::reference::{Reference, Target};
use super::registry::RegistryClient;
use super::types::{Index, MEDIA_DOCKER_LIST, MEDIA_INDEX};
use super::{Digest, ImageError};

/// The manifest digest `reference` (`registry/name[:tag]`) names in its
/// registry now; an index (multi-platform image) is resolved to this
/// platform's manifest, which is what a pull of the pinned reference
/// stores and a node looks up.
pub async fn resolve_digest(
    reference: &Reference,
    access: &RegistryAccess,
) -> Result<Digest, ImageError> {
    let registry_error = |source| ImageError::Registry {
        registry: reference.registry.clone(),
        source,
    };
    let client = RegistryClient::new(&reference.registry, access).map_err(registry_error)?;
    let fetched = client
        .manifest(&reference.repository, &reference.manifest_ref())
        .await
        .map_err(registry_error)?;
    let digest = Digest::of(&fetched.bytes);
    let media_type = media_type(&fetched);
    if media_type != MEDIA_INDEX && media_type != MEDIA_DOCKER_LIST {
        return Ok(digest);
    }
    let index: Index = oci::parse(&fetched.bytes, &format!("index {digest}"))?;
    Ok(native_manifest(&index, &digest)?.digest.clone())
}

/// `image` pinned: `registry/name:tag@sha256:...` with the digest its tag
/// names now; `None` for a reference that is pinned already (holds a
/// digest) or names no registry (an image loaded on the nodes by hand:
/// it keeps its tag).
pub async fn pin_image(image: &str, access: &RegistryAccess) -> Result<Option<String>, ImageError> {
    let Ok(reference) = Reference::parse(image) else {
        return Ok(None);
    };
    let Target::Tag(tag) = &reference.target else {
        return Ok(None);
    };
    let digest = resolve_digest(&reference, access).await?;
    Ok(Some(format!(
        "{}:{tag}@{digest}",
        reference.repository_path()
    )))
}

/// The registry an image reference pulls from, if it names one.
pub fn registry_of(image: &str) -> Option<String> {
    Reference::parse(image).ok().map(|r| r.registry)
}
