//! Taking images out of the store (`image rm`, `image prune`, the agent's
//! image GC): names are dropped from `repositories.json` first, then every
//! blob and unpacked layer no remaining image refers to is swept (moved
//! under `tmp/` and deleted, so a reader never sees half a layer).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::store::{ImageStore, Repositories};
use super::{Digest, ImageError, ImageName, ImageSummary};

/// What a removal did: one line per name untagged and image deleted, as
/// `docker image rm` prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RemovedImages {
    /// `repository:tag` names taken away.
    pub untagged: Vec<String>,
    /// Manifest digests of the images deleted.
    pub deleted: Vec<Digest>,
    /// Bytes of blobs freed.
    pub reclaimed: u64,
}

impl ImageStore {
    /// `image rm`: a reference naming one of several tags of an image only
    /// untags it; otherwise the image goes with all its names. An image
    /// whose manifest is in `in_use` (a container on the node runs it) is
    /// refused.
    pub fn remove(
        &self,
        reference: &str,
        in_use: &BTreeSet<Digest>,
    ) -> Result<RemovedImages, ImageError> {
        let manifest = self.resolve(reference)?.manifest;
        let _guard = self.lock();
        let mut repos = self.read_repositories()?;
        let names: Vec<String> = names_of(&repos, &manifest);
        let given = ImageName::parse(reference).ok().map(|n| n.to_string());
        let mut removed = RemovedImages::default();
        if let Some(given) = given.filter(|g| names.contains(g) && names.len() > 1) {
            repos.tagged.remove(&given);
            removed.untagged.push(given);
            self.write_repositories(&repos)?;
            return Ok(removed);
        }
        if in_use.contains(&manifest) {
            return Err(ImageError::InUse {
                reference: reference.to_owned(),
            });
        }
        self.forget(&mut repos, &manifest, &mut removed)?;
        self.write_repositories(&repos)?;
        removed.reclaimed = self.sweep(&repos)?;
        Ok(removed)
    }

    /// Deletes every image `doomed` selects among `images` (those not in
    /// `in_use`): `image prune` and the image GC. Also drops the verified
    /// blobs of pulls that never finished.
    pub fn remove_images(
        &self,
        doomed: &[Digest],
        in_use: &BTreeSet<Digest>,
    ) -> Result<RemovedImages, ImageError> {
        let _guard = self.lock();
        let mut repos = self.read_repositories()?;
        let mut removed = RemovedImages::default();
        for manifest in doomed.iter().filter(|m| !in_use.contains(*m)) {
            self.forget(&mut repos, manifest, &mut removed)?;
        }
        self.write_repositories(&repos)?;
        removed.reclaimed = self.sweep(&repos)?;
        let downloads = self.root.join("downloads");
        for entry in fs::read_dir(&downloads).map_err(ImageError::io("list", &downloads))? {
            let path = entry.map_err(ImageError::io("list", &downloads))?.path();
            removed.reclaimed += self.discard(&path)?;
        }
        Ok(removed)
    }

    /// Takes `manifest` and all its names out of `repos`.
    fn forget(
        &self,
        repos: &mut Repositories,
        manifest: &Digest,
        removed: &mut RemovedImages,
    ) -> Result<(), ImageError> {
        let names = names_of(repos, manifest);
        let known = !names.is_empty() || repos.untagged.contains(manifest);
        if !known {
            return Ok(());
        }
        for name in names {
            repos.tagged.remove(&name);
            removed.untagged.push(name);
        }
        repos.untagged.remove(manifest);
        removed.deleted.push(manifest.clone());
        Ok(())
    }

    /// Deletes blobs and layers no image of `repos` refers to; the bytes
    /// of blobs freed.
    fn sweep(&self, repos: &Repositories) -> Result<u64, ImageError> {
        let mut kept = BTreeSet::new();
        for manifest in repos.tagged.values().chain(&repos.untagged) {
            kept.insert(manifest.hex().to_owned());
            let parsed = self.read_manifest(manifest)?;
            kept.insert(parsed.config.digest.hex().to_owned());
            kept.extend(parsed.layers.iter().map(|l| l.digest.hex().to_owned()));
        }
        let mut freed = 0;
        for dir in ["blobs/sha256", "layers"] {
            let dir = self.root.join(dir);
            for entry in fs::read_dir(&dir).map_err(ImageError::io("list", &dir))? {
                let path = entry.map_err(ImageError::io("list", &dir))?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !kept.contains(name) {
                    freed += self.discard(&path)?;
                }
            }
        }
        Ok(freed)
    }

    /// Moves `path` under `tmp/` and deletes it there; the size of a file.
    fn discard(&self, path: &Path) -> Result<u64, ImageError> {
        let meta = fs::symlink_metadata(path).map_err(ImageError::io("stat", path))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("x");
        let staging = self.staging(&format!("rm-{name}"));
        let parked = staging.0.clone();
        fs::rename(path, &parked).map_err(ImageError::io("move", path))?;
        // Best effort after the rename: a leftover is only space under tmp/.
        if meta.is_dir() {
            let _ = fs::remove_dir_all(&parked);
            Ok(0)
        } else {
            let _ = fs::remove_file(&parked);
            Ok(meta.len())
        }
    }
}

/// The names pointing at `manifest`.
fn names_of(repos: &Repositories, manifest: &Digest) -> Vec<String> {
    repos
        .tagged
        .iter()
        .filter(|(_, m)| *m == manifest)
        .map(|(name, _)| name.clone())
        .collect()
}

/// The images `image prune` removes: untagged ones (Docker's dangling
/// images), or with `all` every image, except those in `in_use`.
pub fn prunable(images: &[ImageSummary], in_use: &BTreeSet<Digest>, all: bool) -> Vec<Digest> {
    let mut doomed: Vec<Digest> = images
        .iter()
        .filter(|i| all || i.tag == "<none>")
        .filter(|i| !in_use.contains(&i.manifest))
        .map(|i| i.manifest.clone())
        .collect();
    doomed.dedup();
    doomed
}
