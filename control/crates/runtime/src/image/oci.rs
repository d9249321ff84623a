//! Reading an OCI image layout (`oci-layout`, `index.json`, `blobs/`).

use std::fs;
use std::path::PathBuf;

use serde::de::DeserializeOwned;

use super::archive::Staged;
use super::digest::Digest;
use super::types::{
    Descriptor, ImageConfigFile, Index, MEDIA_DOCKER_MANIFEST, MEDIA_MANIFEST, Manifest,
};
use super::{ImageError, PendingImage};

/// Media types accepted for manifests (empty: older layouts omit it).
const MANIFEST_TYPES: [&str; 3] = [MEDIA_MANIFEST, MEDIA_DOCKER_MANIFEST, ""];
/// The manifest of an index (or Docker manifest list) for this machine's
/// platform; entries without a platform count as native.
pub(crate) fn native_manifest<'a>(
    index: &'a Index,
    index_digest: &Digest,
) -> Result<&'a Descriptor, ImageError> {
    index
        .manifests
        .iter()
        .find(|d| d.platform.as_ref().is_none_or(|p| p.is_native()))
        .ok_or_else(|| ImageError::Unsupported {
            what: "platform",
            value: format!(
                "no linux/{} manifest in {index_digest}",
                std::env::consts::ARCH
            ),
        })
}

/// Refuses a manifest media type the store cannot read (Docker's schema 1,
/// artifacts, ...).
pub(crate) fn check_manifest_type(media_type: &str) -> Result<(), ImageError> {
    if MANIFEST_TYPES.contains(&media_type) {
        return Ok(());
    }
    Err(ImageError::Unsupported {
        what: "media type",
        value: media_type.to_owned(),
    })
}

/// Nested indexes followed at most this deep.
const MAX_INDEX_DEPTH: usize = 2;

/// The archive path of a blob.
pub(crate) fn blob_path(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

/// Parses JSON bytes as `T`, naming `document` in the error.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8], document: &str) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(ImageError::json(document))
}

/// Every image the layout's `index.json` names, with all blobs verified.
pub(crate) fn read(staged: &Staged) -> Result<Vec<PendingImage>, ImageError> {
    verify_all_blobs(staged)?;
    let index: Index = parse(&staged.read("index.json")?, "index.json")?;
    let mut images = Vec::new();
    for desc in &index.manifests {
        let names = desc.image_name().into_iter().collect();
        collect(staged, desc, names, 0, &mut images)?;
    }
    Ok(images)
}

/// Checks that every file under `blobs/sha256/` hashes to its name.
fn verify_all_blobs(staged: &Staged) -> Result<(), ImageError> {
    let dir = staged.root().join("blobs/sha256");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.map_err(ImageError::io("list", &dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let blob = format!("blobs/sha256/{name}");
        let expected = Digest::from_hex(&name).ok_or_else(|| ImageError::BadDigest {
            value: blob.clone(),
        })?;
        let (actual, _) = Digest::of_file(&entry.path())?;
        if actual != expected {
            return Err(ImageError::DigestMismatch {
                blob,
                expected,
                actual,
            });
        }
    }
    Ok(())
}

/// The blob a descriptor points at, its size checked (its digest was
/// checked by [`verify_all_blobs`]).
fn blob(staged: &Staged, desc: &Descriptor) -> Result<PathBuf, ImageError> {
    let path = staged
        .file(&blob_path(&desc.digest))
        .map_err(|_| ImageError::MissingBlob {
            name: desc.digest.to_string(),
        })?;
    let actual = fs::metadata(&path)
        .map_err(ImageError::io("stat", &path))?
        .len();
    if actual != desc.size {
        return Err(ImageError::SizeMismatch {
            digest: desc.digest.clone(),
            expected: desc.size,
            actual,
        });
    }
    Ok(path)
}

fn read_blob(staged: &Staged, desc: &Descriptor) -> Result<Vec<u8>, ImageError> {
    let path = blob(staged, desc)?;
    fs::read(&path).map_err(ImageError::io("read", &path))
}

fn collect(
    staged: &Staged,
    desc: &Descriptor,
    names: Vec<super::ImageName>,
    depth: usize,
    out: &mut Vec<PendingImage>,
) -> Result<(), ImageError> {
    if desc.is_index() {
        if depth >= MAX_INDEX_DEPTH {
            return Err(ImageError::Unsupported {
                what: "index nesting",
                value: format!("deeper than {MAX_INDEX_DEPTH} at {}", desc.digest),
            });
        }
        let nested: Index = parse(&read_blob(staged, desc)?, &format!("index {}", desc.digest))?;
        let native = native_manifest(&nested, &desc.digest)?;
        return collect(staged, native, names, depth + 1, out);
    }
    check_manifest_type(&desc.media_type)?;
    let bytes = read_blob(staged, desc)?;
    let manifest: Manifest = parse(&bytes, &format!("manifest {}", desc.digest))?;
    out.push(pending(staged, names, bytes, manifest)?);
    Ok(())
}

fn pending(
    staged: &Staged,
    names: Vec<super::ImageName>,
    manifest_bytes: Vec<u8>,
    manifest: Manifest,
) -> Result<PendingImage, ImageError> {
    let config_bytes = read_blob(staged, &manifest.config)?;
    let config: ImageConfigFile = parse(
        &config_bytes,
        &format!("image config {}", manifest.config.digest),
    )?;
    let mut blobs = vec![(
        manifest.config.digest.clone(),
        blob(staged, &manifest.config)?,
    )];
    for layer in &manifest.layers {
        blobs.push((layer.digest.clone(), blob(staged, layer)?));
    }
    Ok(PendingImage {
        names,
        manifest_digest: Digest::of(&manifest_bytes),
        manifest_bytes,
        manifest,
        config,
        blobs,
    })
}
