//! Unpacking one layer blob into a directory usable as an overlayfs lower
//! layer: OCI whiteouts become 0/0 character devices, opaque markers the
//! `trusted.overlay.opaque` xattr; nothing may land outside the directory.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::GzDecoder;

use super::archive::clean_relative;
use super::digest::HashingReader;
use super::{Digest, ImageError};
use crate::sys;

/// Prefix of an OCI whiteout entry.
const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the entry that makes its directory opaque.
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

/// Opens a layer blob as its uncompressed tar stream (gzip detected by its
/// magic bytes).
fn open_layer(blob: &Path, layer: &Digest) -> Result<Box<dyn Read>, ImageError> {
    let file = File::open(blob).map_err(ImageError::io("open", blob))?;
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(ImageError::io("read", blob))?;
    match head {
        [0x1f, 0x8b, ..] => Ok(Box::new(GzDecoder::new(reader))),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Err(ImageError::Unsupported {
            what: "layer compression",
            value: format!("zstd ({layer})"),
        }),
        _ => Ok(Box::new(reader)),
    }
}

/// The digest of a layer's uncompressed tar (its diff id), without
/// unpacking it.
pub(crate) fn diff_id(blob: &Path, layer: &Digest) -> Result<Digest, ImageError> {
    let mut reader = HashingReader::new(open_layer(blob, layer)?);
    io::copy(&mut reader, &mut io::sink()).map_err(|source| ImageError::Unpack {
        layer: layer.clone(),
        source,
    })?;
    Ok(reader.finish().0)
}

/// Unpacks the layer `blob` into the new directory `dest` and returns its
/// diff id.
pub(crate) fn unpack(blob: &Path, layer: &Digest, dest: &Path) -> Result<Digest, ImageError> {
    fs::create_dir_all(dest).map_err(ImageError::io("create", dest))?;
    let unpack_err = |source| ImageError::Unpack {
        layer: layer.clone(),
        source,
    };
    let mut archive = tar::Archive::new(HashingReader::new(open_layer(blob, layer)?));
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    for entry in archive.entries().map_err(unpack_err)? {
        let entry = entry.map_err(unpack_err)?;
        unpack_entry(entry, layer, dest)?;
    }
    // Hash the end-of-archive blocks and anything after them too.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(unpack_err)?;
    Ok(rest.finish().0)
}

fn unpack_entry<R: Read>(
    mut entry: tar::Entry<'_, R>,
    layer: &Digest,
    dest: &Path,
) -> Result<(), ImageError> {
    let raw = entry
        .path()
        .map_err(|source| ImageError::Unpack {
            layer: layer.clone(),
            source,
        })?
        .into_owned();
    let unsafe_path = || ImageError::UnsafePath {
        container: format!("layer {layer}"),
        entry: raw.display().to_string(),
    };
    let rel = clean_relative(&raw, true).ok_or_else(unsafe_path)?;
    let parent = rel.parent().unwrap_or(Path::new(""));
    if !resolves_inside(dest, parent) {
        return Err(unsafe_path());
    }
    let unpack_err = |source| ImageError::Unpack {
        layer: layer.clone(),
        source,
    };
    if let Some(name) = rel.file_name().and_then(|n| n.to_str())
        && name.starts_with(WHITEOUT_PREFIX)
    {
        let parent = dest.join(parent);
        fs::create_dir_all(&parent).map_err(unpack_err)?;
        return whiteout(&parent, name).map_err(unpack_err);
    }
    match entry.header().entry_type() {
        // Device nodes come from runc's /dev tmpfs, not from layers.
        tar::EntryType::Block | tar::EntryType::Char | tar::EntryType::Fifo => Ok(()),
        _ => match entry.unpack_in(dest) {
            Ok(true) => Ok(()),
            Ok(false) => Err(unsafe_path()),
            Err(source) => Err(unpack_err(source)),
        },
    }
}

/// Whether `dest/rel`, following symlinks already unpacked, stays inside
/// `dest` (checked on its deepest existing ancestor: what does not exist
/// yet gets created as plain directories).
fn resolves_inside(dest: &Path, rel: &Path) -> bool {
    let Ok(root) = dest.canonicalize() else {
        return false;
    };
    let mut path = dest.join(rel);
    loop {
        if let Ok(real) = path.canonicalize() {
            return real.starts_with(&root);
        }
        if !path.pop() {
            return false;
        }
    }
}

fn whiteout(parent: &Path, name: &str) -> io::Result<()> {
    if name == WHITEOUT_OPAQUE {
        return sys::set_opaque(parent);
    }
    let target = parent.join(&name[WHITEOUT_PREFIX.len()..]);
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(&target)?,
        Ok(_) => fs::remove_file(&target)?,
        Err(_) => {}
    }
    sys::mknod_whiteout(&target)
}
