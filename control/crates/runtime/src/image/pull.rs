//! `image pull`: a manifest (an index or manifest list resolved to this
//! platform's manifest), its config and its layers fetched from an OCI
//! distribution registry into a staging directory, every blob verified
//! against its descriptor's digest and size, then installed the way
//! [`ImageStore::load`] installs an archive. Blobs the store has are not
//! fetched again; up to [`PARALLEL_BLOBS`] layers download at once; a
//! verified blob of a pull that did not finish waits in `downloads/`, so
//! the next pull of it (a retry) does not fetch it again.

use std::fs;
use std::path::{Path, PathBuf};

use super::access::RegistryAccess;
use super::oci::{self, check_manifest_type, native_manifest};
use super::reference::{Reference, Target};
use super::registry::{FetchedManifest, RegistryClient, RegistryError};
use super::store::{ImageStore, LoadedImage};
use super::types::{Descriptor, ImageConfigFile, Index, MEDIA_DOCKER_LIST, MEDIA_INDEX, Manifest};
use super::{Digest, ImageError, PendingImage};

use futures_util::{StreamExt as _, TryStreamExt as _};

/// Layers downloaded at once (Docker's default `max-concurrent-downloads`
/// is 3).
pub const PARALLEL_BLOBS: usize = 3;

/// What [`ImageStore::pull`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    /// The reference pulled, normalised (`registry/name:tag` or `@digest`).
    pub reference: String,
    /// `registry/name`, as Docker's "Pulling from" names it.
    pub repository: String,
    /// Name (none for a digest pull), image id and manifest digest.
    pub image: LoadedImage,
    /// Config and layer blobs downloaded (empty when all were present).
    pub fetched: Vec<Digest>,
    /// Whether the store had this manifest under this reference already.
    pub up_to_date: bool,
}

impl ImageStore {
    /// Pulls `registry/name[:tag|@digest]` with the default access (no
    /// login, loopback insecure); see [`ImageStore::pull_with`].
    pub fn pull(&self, reference: &str) -> Result<PulledImage, ImageError> {
        self.pull_with(reference, &RegistryAccess::default())
    }

    /// Pulls `registry/name[:tag|@digest]` over https (plain http only
    /// for a registry `access` marks insecure) with `access`'s login, and
    /// stores it under `registry/name:tag`; on any error the store is
    /// unchanged.
    pub fn pull_with(
        &self,
        reference: &str,
        access: &RegistryAccess,
    ) -> Result<PulledImage, ImageError> {
        let reference = Reference::parse(reference)?;
        let client = RegistryClient::new(&reference.registry, access).map_err(|source| {
            ImageError::Registry {
                registry: reference.registry.clone(),
                source,
            }
        })?;
        let staging = self.staging("pull");
        let dir = staging.0.join("blobs");
        fs::create_dir_all(&dir).map_err(ImageError::io("create", &dir))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ImageError::io("start the network runtime for", &dir))?;
        let fetch = Fetch {
            store: self,
            client,
            reference: &reference,
            dir,
            fetched: std::sync::Mutex::default(),
        };
        let image = runtime.block_on(fetch.image())?;
        let _guard = self.lock();
        let up_to_date = self.has_manifest(&reference, &image.manifest_digest)?;
        self.install(std::slice::from_ref(&image), &staging)?;
        Ok(PulledImage {
            reference: reference.to_string(),
            repository: reference.repository_path(),
            image: LoadedImage {
                name: reference.local_name(),
                id: image.manifest.config.digest.clone(),
                manifest: image.manifest_digest.clone(),
            },
            fetched: fetch
                .fetched
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            up_to_date,
        })
    }

    /// Whether `manifest` is what `reference` names here already.
    fn has_manifest(&self, reference: &Reference, manifest: &Digest) -> Result<bool, ImageError> {
        match reference.local_name() {
            Some(name) => {
                let repos = self.read_repositories()?;
                Ok(repos.tagged.get(&name.to_string()) == Some(manifest))
            }
            None => Ok(self.blob(manifest).exists()),
        }
    }
}

/// One pull in progress.
struct Fetch<'a> {
    store: &'a ImageStore,
    client: RegistryClient,
    reference: &'a Reference,
    /// Staging directory for downloaded blobs.
    dir: PathBuf,
    /// Blobs downloaded so far.
    fetched: std::sync::Mutex<Vec<Digest>>,
}

impl Fetch<'_> {
    fn registry_error(&self) -> impl FnOnce(RegistryError) -> ImageError + use<> {
        let registry = self.reference.registry.clone();
        move |source| ImageError::Registry { registry, source }
    }

    /// The image, every blob verified and staged (or already stored).
    async fn image(&self) -> Result<PendingImage, ImageError> {
        let (manifest_digest, manifest_bytes) = self.manifest().await?;
        let manifest: Manifest =
            oci::parse(&manifest_bytes, &format!("manifest {manifest_digest}"))?;
        let config_path = self.blob(&manifest.config).await?;
        let config_bytes = fs::read(&config_path).map_err(ImageError::io("read", &config_path))?;
        let config: ImageConfigFile = oci::parse(
            &config_bytes,
            &format!("image config {}", manifest.config.digest),
        )?;
        let mut blobs = vec![(manifest.config.digest.clone(), config_path)];
        let layers: Vec<PathBuf> = futures_util::stream::iter(&manifest.layers)
            .map(|layer| self.blob(layer))
            .buffered(PARALLEL_BLOBS)
            .try_collect()
            .await?;
        blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()).zip(layers));
        Ok(PendingImage {
            names: self.reference.local_name().into_iter().collect(),
            manifest_digest,
            manifest_bytes,
            manifest,
            config,
            blobs,
        })
    }

    /// The image manifest's digest and bytes, through an index or
    /// manifest list when the reference names one.
    async fn manifest(&self) -> Result<(Digest, Vec<u8>), ImageError> {
        let expected = match &self.reference.target {
            Target::Digest(digest) => Some(digest),
            Target::Tag(_) => None,
        };
        let wanted = self.reference.manifest_ref();
        let (digest, fetched) = self.verified_manifest(&wanted, expected).await?;
        let media_type = media_type(&fetched);
        if media_type != MEDIA_INDEX && media_type != MEDIA_DOCKER_LIST {
            check_manifest_type(&media_type)?;
            return Ok((digest, fetched.bytes));
        }
        let index: Index = oci::parse(&fetched.bytes, &format!("index {digest}"))?;
        let native = native_manifest(&index, &digest)?;
        let (digest, fetched) = self
            .verified_manifest(&native.digest.to_string(), Some(&native.digest))
            .await?;
        check_manifest_type(&media_type_or(&fetched, &native.media_type))?;
        Ok((digest, fetched.bytes))
    }

    /// Fetches a manifest and checks it hashes to `expected`, if given.
    async fn verified_manifest(
        &self,
        wanted: &str,
        expected: Option<&Digest>,
    ) -> Result<(Digest, FetchedManifest), ImageError> {
        let fetched = self
            .client
            .manifest(&self.reference.repository, wanted)
            .await
            .map_err(self.registry_error())?;
        let actual = Digest::of(&fetched.bytes);
        if let Some(expected) = expected
            && *expected != actual
        {
            return Err(ImageError::DigestMismatch {
                blob: format!("manifest {wanted}"),
                expected: expected.clone(),
                actual,
            });
        }
        Ok((actual, fetched))
    }

    /// The store's copy of a blob, the verified download of an earlier
    /// pull that did not finish, or a verified download of it (kept in
    /// `downloads/` until the image is installed).
    async fn blob(&self, desc: &Descriptor) -> Result<PathBuf, ImageError> {
        let stored = self.store.blob(&desc.digest);
        if stored.exists() {
            return Ok(stored);
        }
        let kept = self.store.download(&desc.digest);
        if kept.exists() {
            return Ok(kept);
        }
        let path = self.dir.join(desc.digest.hex());
        self.client
            .blob_to_file(&self.reference.repository, &desc.digest, &path, desc.size)
            .await
            .map_err(self.registry_error())?;
        verify(&path, desc)?;
        fs::rename(&path, &kept).map_err(ImageError::io("keep", &kept))?;
        self.fetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(desc.digest.clone());
        Ok(kept)
    }
}

/// Checks a downloaded blob against its descriptor.
fn verify(path: &Path, desc: &Descriptor) -> Result<(), ImageError> {
    let (actual, size) = Digest::of_file(path)?;
    if actual != desc.digest {
        return Err(ImageError::DigestMismatch {
            blob: format!("{} from the registry", desc.digest),
            expected: desc.digest.clone(),
            actual,
        });
    }
    if size != desc.size {
        return Err(ImageError::SizeMismatch {
            digest: desc.digest.clone(),
            expected: desc.size,
            actual: size,
        });
    }
    Ok(())
}

/// A manifest's media type: its `Content-Type`, else its `mediaType` field.
pub(super) fn media_type(fetched: &FetchedManifest) -> String {
    media_type_or(fetched, "")
}

/// Like [`media_type`], falling back to `fallback` (the index's word).
fn media_type_or(fetched: &FetchedManifest, fallback: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "mediaType", default)]
        media_type: String,
    }
    if fetched.media_type.starts_with("application/vnd.") {
        return fetched.media_type.clone();
    }
    match serde_json::from_slice::<Typed>(&fetched.bytes) {
        Ok(typed) if !typed.media_type.is_empty() => typed.media_type,
        _ => fallback.to_owned(),
    }
}
