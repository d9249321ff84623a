//! The node's content-addressed image store.
//!
//! ```text
//! <state>/images/blobs/sha256/<hex>   manifests, configs and layer blobs, verified
//! <state>/images/layers/<hex>         each layer blob unpacked once (overlayfs lower dir)
//! <state>/images/repositories.json    repository:tag → manifest digest, and untagged manifests
//! <state>/images/tmp/                 staging of loads in progress
//! <state>/images/downloads/<hex>       verified blobs of pulls not finished yet (a retry reuses them)
//! ```
//!
//! A load stages and verifies everything first; only then are blobs and
//! layers renamed into place and the index replaced (write + rename), so a
//! rejected archive leaves the store as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::archive::Staged;
use super::types::{ImageConfigFile, Manifest};
use super::{Digest, ImageError, ImageName, PendingImage, docker, layer, oci};

/// Distinguishes staging directories of one process.
static STAGING_SEQ: AtomicU64 = AtomicU64::new(0);

/// The name index (`repositories.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Repositories {
    /// `repository:tag` → manifest digest.
    pub(super) tagged: BTreeMap<String, Digest>,
    /// Manifests no tag points at any more (`<none>` in `image ls`).
    pub(super) untagged: BTreeSet<Digest>,
}

/// A directory removed when dropped (a load's or pull's staging area).
pub(super) struct StagingDir(pub(super) PathBuf);

impl Drop for StagingDir {
    fn drop(&mut self) {
        // Best effort: a leftover is only wasted space under tmp/.
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// An image the store knows, ready to run.
#[derive(Debug, Clone)]
pub struct Image {
    /// The image id: digest of its config blob.
    pub id: Digest,
    /// Digest of its manifest.
    pub manifest: Digest,
    /// Its config (entrypoint, cmd, env, ...).
    pub config: ImageConfigFile,
    /// Unpacked layer directories, base first.
    pub layers: Vec<PathBuf>,
}

/// What `load` added: one row per name (or one unnamed row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The name it was loaded under, if the archive gave one.
    pub name: Option<ImageName>,
    /// The image id (config digest).
    pub id: Digest,
    /// Its manifest digest.
    pub manifest: Digest,
}

/// One row of `image ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSummary {
    /// Repository, `<none>` for an untagged image.
    pub repository: String,
    /// Tag, `<none>` for an untagged image.
    pub tag: String,
    /// Image id (config digest).
    pub id: Digest,
    /// Manifest digest.
    pub manifest: Digest,
    /// Bytes of its config and layer blobs.
    pub size: u64,
}

/// The image store of one node.
#[derive(Debug)]
pub struct ImageStore {
    pub(super) root: PathBuf,
    /// Serialises loads and index updates within this process.
    lock: Mutex<()>,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `<state_dir>/images`.
    pub fn open(state_dir: &Path) -> Result<Self, ImageError> {
        let root = state_dir.join("images");
        for dir in ["blobs/sha256", "layers", "tmp", "downloads"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(ImageError::io("create", &path))?;
        }
        Ok(Self {
            root,
            lock: Mutex::new(()),
        })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn blob(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// Where a verified blob of an unfinished pull waits.
    pub(super) fn download(&self, digest: &Digest) -> PathBuf {
        self.root.join("downloads").join(digest.hex())
    }

    pub(super) fn layer_dir(&self, digest: &Digest) -> PathBuf {
        self.root.join("layers").join(digest.hex())
    }

    /// Loads an OCI image layout archive or a `docker save` tarball,
    /// verifying every blob; on any error the store is unchanged.
    pub fn load(&self, archive: &Path) -> Result<Vec<LoadedImage>, ImageError> {
        let _guard = self.lock();
        let staging = self.staging("load");
        let unpacked = staging.0.join("archive");
        fs::create_dir_all(&unpacked).map_err(ImageError::io("create", &unpacked))?;
        let staged = Staged::extract(archive, &unpacked)?;
        let images = if staged.has("oci-layout") && staged.has("index.json") {
            oci::read(&staged)?
        } else if staged.has("manifest.json") {
            docker::read(&staged)?
        } else {
            return Err(ImageError::UnknownFormat {
                path: archive.to_owned(),
            });
        };
        if images.is_empty() {
            return Err(ImageError::Empty {
                path: archive.to_owned(),
            });
        }
        self.install(&images, &staging)
    }

    /// Holds the store's lock: one load or pull installs at a time.
    pub(super) fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh staging directory under `tmp/`, removed when dropped.
    pub(super) fn staging(&self, kind: &str) -> StagingDir {
        let seq = STAGING_SEQ.fetch_add(1, Ordering::Relaxed);
        StagingDir(
            self.root
                .join(format!("tmp/{kind}-{}-{seq}", std::process::id())),
        )
    }

    /// Unpacks and checks the layers of verified `images`, then moves
    /// their blobs and layers into place and records their names; call
    /// with the lock held.
    pub(super) fn install(
        &self,
        images: &[PendingImage],
        staging: &StagingDir,
    ) -> Result<Vec<LoadedImage>, ImageError> {
        let layers_dir = staging.0.join("layers");
        for image in images {
            self.stage_layers(image, &layers_dir)?;
        }
        self.commit(images, &layers_dir)
    }

    /// Unpacks the image's layers the store lacks into `staging` and checks
    /// every layer against the config's diff ids.
    fn stage_layers(&self, image: &PendingImage, staging: &Path) -> Result<(), ImageError> {
        let diff_ids = &image.config.rootfs.diff_ids;
        if diff_ids.len() != image.manifest.layers.len() {
            return Err(ImageError::LayerCount {
                layers: image.manifest.layers.len(),
                diff_ids: diff_ids.len(),
            });
        }
        for (index, (desc, expected)) in image.manifest.layers.iter().zip(diff_ids).enumerate() {
            let blob = image.blob_path(&desc.digest)?;
            let dest = staging.join(desc.digest.hex());
            let actual = if self.layer_dir(&desc.digest).exists() || dest.exists() {
                layer::diff_id(blob, &desc.digest)?
            } else {
                layer::unpack(blob, &desc.digest, &dest).inspect_err(|_| {
                    let _ = fs::remove_dir_all(&dest);
                })?
            };
            if &actual != expected {
                return Err(ImageError::DiffIdMismatch {
                    index,
                    layer: desc.digest.clone(),
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        Ok(())
    }

    /// Moves verified blobs and staged layers into place, then the names.
    fn commit(
        &self,
        images: &[PendingImage],
        layers: &Path,
    ) -> Result<Vec<LoadedImage>, ImageError> {
        let mut repos = self.read_repositories()?;
        let mut loaded = Vec::new();
        for image in images {
            for (digest, path) in &image.blobs {
                self.move_into(path, &self.blob(digest))?;
            }
            let manifest_blob = self.blob(&image.manifest_digest);
            if !manifest_blob.exists() {
                write_atomic(&manifest_blob, &image.manifest_bytes)?;
            }
            for desc in &image.manifest.layers {
                let staged = layers.join(desc.digest.hex());
                if staged.exists() {
                    self.move_into(&staged, &self.layer_dir(&desc.digest))?;
                }
            }
            let id = image.manifest.config.digest.clone();
            let manifest = image.manifest_digest.clone();
            repos.add(&image.names, &manifest);
            if image.names.is_empty() {
                loaded.push(LoadedImage {
                    name: None,
                    id,
                    manifest,
                });
                continue;
            }
            for name in &image.names {
                let (name, id, manifest) = (Some(name.clone()), id.clone(), manifest.clone());
                loaded.push(LoadedImage { name, id, manifest });
            }
        }
        self.write_repositories(&repos)?;
        Ok(loaded)
    }

    /// Renames `from` to `to` unless `to` exists already (same content).
    fn move_into(&self, from: &Path, to: &Path) -> Result<(), ImageError> {
        if to.exists() || !from.exists() {
            return Ok(());
        }
        fs::rename(from, to).map_err(ImageError::io("move", to))
    }

    pub(super) fn read_repositories(&self) -> Result<Repositories, ImageError> {
        let path = self.root.join("repositories.json");
        match fs::read(&path) {
            Ok(bytes) => oci::parse(&bytes, "repositories.json"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Repositories::default()),
            Err(e) => Err(ImageError::io("read", path)(e)),
        }
    }

    pub(super) fn write_repositories(&self, repos: &Repositories) -> Result<(), ImageError> {
        let bytes =
            serde_json::to_vec_pretty(repos).map_err(ImageError::json("repositories.json"))?;
        write_atomic(&self.root.join("repositories.json"), &bytes)
    }

    pub(super) fn read_manifest(&self, digest: &Digest) -> Result<Manifest, ImageError> {
        let path = self.blob(digest);
        let bytes = fs::read(&path).map_err(ImageError::io("read", &path))?;
        oci::parse(&bytes, &format!("manifest {digest}"))
    }
}

impl Repositories {
    /// Points `names` at `manifest`; images losing their last name become
    /// untagged, an unnamed image is recorded as untagged.
    fn add(&mut self, names: &[ImageName], manifest: &Digest) {
        if names.is_empty() {
            if !self.tagged.values().any(|d| d == manifest) {
                self.untagged.insert(manifest.clone());
            }
            return;
        }
        self.untagged.remove(manifest);
        for name in names {
            if let Some(old) = self.tagged.insert(name.to_string(), manifest.clone())
                && &old != manifest
                && !self.tagged.values().any(|d| *d == old)
            {
                self.untagged.insert(old);
            }
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(ImageError::io("write", &tmp))?;
    fs::rename(&tmp, path).map_err(ImageError::io("rename", path))
}
