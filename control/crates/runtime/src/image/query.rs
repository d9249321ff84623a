//! Reading the store: `image ls` rows and resolving a reference to an
//! image ready to run.

use std::fs;

use super::store::{Image, ImageStore, ImageSummary};
use super::types::ImageConfigFile;
use super::{Digest, ImageError, ImageName, oci};

/// Shortest hex prefix accepted as an image id.
const MIN_ID_PREFIX: usize = 4;
/// Shown for the repository and tag of an untagged image.
const NONE: &str = "<none>";

impl ImageStore {
    /// All images, by repository and tag, untagged ones last (`image ls`).
    pub fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        let repos = self.read_repositories()?;
        let mut rows = Vec::new();
        for (name, manifest) in &repos.tagged {
            let name = ImageName::parse(name)?;
            rows.push(self.summary(name.repository, name.tag, manifest)?);
        }
        for manifest in &repos.untagged {
            rows.push(self.summary(NONE.to_owned(), NONE.to_owned(), manifest)?);
        }
        Ok(rows)
    }

    fn summary(
        &self,
        repository: String,
        tag: String,
        manifest_digest: &Digest,
    ) -> Result<ImageSummary, ImageError> {
        let manifest = self.read_manifest(manifest_digest)?;
        let size = manifest.config.size + manifest.layers.iter().map(|l| l.size).sum::<u64>();
        Ok(ImageSummary {
            repository,
            tag,
            id: manifest.config.digest,
            manifest: manifest_digest.clone(),
            size,
        })
    }

    /// The image a reference names: `repo[:tag]`, a full `sha256:` image id
    /// or manifest digest, `repo[:tag]@sha256:...` (that manifest, whatever
    /// the tag names here now), or a unique prefix (≥ 4 hex digits) of an id.
    pub fn resolve(&self, reference: &str) -> Result<Image, ImageError> {
        let manifest = self.resolve_manifest(reference)?;
        let parsed = self.read_manifest(&manifest)?;
        let config_path = self.blob(&parsed.config.digest);
        let bytes = fs::read(&config_path).map_err(ImageError::io("read", &config_path))?;
        let config: ImageConfigFile =
            oci::parse(&bytes, &format!("image config {}", parsed.config.digest))?;
        let mut layers = Vec::with_capacity(parsed.layers.len());
        for layer in &parsed.layers {
            let dir = self.layer_dir(&layer.digest);
            if !dir.is_dir() {
                return Err(ImageError::MissingBlob {
                    name: format!("unpacked layer {}", layer.digest),
                });
            }
            layers.push(dir);
        }
        Ok(Image {
            id: parsed.config.digest,
            manifest,
            config,
            layers,
        })
    }

    fn resolve_manifest(&self, reference: &str) -> Result<Digest, ImageError> {
        let not_found = || ImageError::NotFound {
            reference: reference.to_owned(),
        };
        let rows = self.list()?;
        if let Some((_, digest)) = reference.split_once('@') {
            // Pinned: only that manifest will do, never what the tag names.
            let digest = Digest::parse(digest)?;
            return rows
                .into_iter()
                .find(|r| r.manifest == digest)
                .map(|r| r.manifest)
                .ok_or_else(not_found);
        }
        if reference.starts_with("sha256:") {
            let digest = Digest::parse(reference)?;
            return rows
                .into_iter()
                .find(|r| r.id == digest || r.manifest == digest)
                .map(|r| r.manifest)
                .ok_or_else(not_found);
        }
        let name = ImageName::parse(reference)?;
        if let Some(row) = rows
            .iter()
            .find(|r| r.repository == name.repository && r.tag == name.tag)
        {
            return Ok(row.manifest.clone());
        }
        let is_prefix = reference.len() >= MIN_ID_PREFIX
            && reference
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !is_prefix {
            return Err(not_found());
        }
        let mut matches: Vec<_> = rows
            .into_iter()
            .filter(|r| r.id.hex().starts_with(reference))
            .map(|r| r.manifest)
            .collect();
        matches.dedup();
        match matches.len() {
            0 => Err(not_found()),
            1 => Ok(matches.remove(0)),
            _ => Err(ImageError::Ambiguous {
                reference: reference.to_owned(),
            }),
        }
    }
}

impl ImageSummary {
    /// The size as `docker image ls` prints it (`1.98MB`, decimal units).
    pub fn human_size(&self) -> String {
        const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
        let mut value = self.size as f64;
        let mut unit = 0;
        while value >= 1000.0 && unit < UNITS.len() - 1 {
            value /= 1000.0;
            unit += 1;
        }
        if unit == 0 {
            return format!("{}B", self.size);
        }
        let precision = match value {
            v if v >= 100.0 => 0,
            v if v >= 10.0 => 1,
            _ => 2,
        };
        format!("{value:.precision$}{}", UNITS[unit])
    }
}
