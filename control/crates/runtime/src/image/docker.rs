//! Reading a `docker save` tarball (`manifest.json`, a config JSON and a
//! tar per layer). Its blobs are verified by name where the name is a
//! digest (`<hex>.json`, `blobs/sha256/<hex>`); layers are verified against
//! the config's `diff_ids` when unpacked. An OCI manifest is synthesised
//! so the store holds every image the same way.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use super::archive::Staged;
use super::digest::Digest;
use super::oci::parse;
use super::types::{
    Descriptor, ImageConfigFile, MEDIA_CONFIG, MEDIA_LAYER_GZIP, MEDIA_LAYER_TAR, MEDIA_MANIFEST,
    Manifest,
};
use super::{ImageError, ImageName, PendingImage};

/// One image of `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SavedImage {
    /// Path of the config JSON in the archive.
    config: String,
    /// `repo:tag` names.
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    /// Paths of the layer tars, base first.
    layers: Vec<String>,
}

/// Every image `manifest.json` lists.
pub(crate) fn read(staged: &Staged) -> Result<Vec<PendingImage>, ImageError> {
    let saved: Vec<SavedImage> = parse(&staged.read("manifest.json")?, "manifest.json")?;
    saved.iter().map(|image| pending(staged, image)).collect()
}

/// The digest a file's name promises, if its name is one.
fn named_digest(name: &str) -> Option<Digest> {
    let file = Path::new(name).file_name()?.to_str()?;
    Digest::from_hex(file.strip_suffix(".json").unwrap_or(file))
}

/// Hashes the archive file `name`, checking it against a digest name.
fn verified(staged: &Staged, name: &str) -> Result<(Digest, u64), ImageError> {
    let path = staged.file(name)?;
    let (actual, size) = Digest::of_file(&path)?;
    match named_digest(name) {
        Some(expected) if expected != actual => Err(ImageError::DigestMismatch {
            blob: name.to_owned(),
            expected,
            actual,
        }),
        _ => Ok((actual, size)),
    }
}

fn layer_media_type(staged: &Staged, name: &str) -> Result<&'static str, ImageError> {
    let path = staged.file(name)?;
    let mut magic = [0u8; 2];
    let mut file = File::open(&path).map_err(ImageError::io("open", &path))?;
    let n = file
        .read(&mut magic)
        .map_err(ImageError::io("read", &path))?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        MEDIA_LAYER_GZIP
    } else {
        MEDIA_LAYER_TAR
    })
}

fn pending(staged: &Staged, image: &SavedImage) -> Result<PendingImage, ImageError> {
    let (config_digest, config_size) = verified(staged, &image.config)?;
    let config_bytes = staged.read(&image.config)?;
    let config: ImageConfigFile = parse(&config_bytes, &format!("image config {}", image.config))?;
    let mut blobs = vec![(config_digest.clone(), staged.file(&image.config)?)];
    let mut layers = Vec::with_capacity(image.layers.len());
    for name in &image.layers {
        let (digest, size) = verified(staged, name)?;
        layers.push(Descriptor {
            digest: digest.clone(),
            size,
            ..Descriptor::of(layer_media_type(staged, name)?, &[])
        });
        blobs.push((digest, staged.file(name)?));
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: MEDIA_MANIFEST.to_owned(),
        config: Descriptor {
            digest: config_digest,
            size: config_size,
            ..Descriptor::of(MEDIA_CONFIG, &[])
        },
        layers,
    };
    let manifest_bytes =
        serde_json::to_vec(&manifest).map_err(ImageError::json("synthesised manifest"))?;
    let names = image
        .repo_tags
        .iter()
        .flatten()
        .map(|tag| ImageName::parse(tag))
        .collect::<Result<_, _>>()?;
    Ok(PendingImage {
        names,
        manifest_digest: Digest::of(&manifest_bytes),
        manifest_bytes,
        manifest,
        config,
        blobs,
    })
}
