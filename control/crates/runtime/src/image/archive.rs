//! Unpacking an image archive (the outer tar of an OCI layout or a
//! `docker save`) into a staging directory: regular files and directories
//! only, symlinks recorded and resolved inside the archive, and every path
//! checked to stay inside.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Component, Path, PathBuf};

use super::ImageError;

/// Most symlinks followed when resolving one archive path.
const MAX_LINK_DEPTH: usize = 8;

/// `raw` as a clean relative path (`.` dropped), or `None` when it climbs
/// out with `..`. A leading `/` is dropped when `allow_absolute`, else
/// rejected.
pub(crate) fn clean_relative(raw: &Path, allow_absolute: bool) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in raw.components() {
        match part {
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) if allow_absolute => {}
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::Prefix(_) | Component::ParentDir => return None,
        }
    }
    Some(out)
}

/// An archive unpacked into a directory.
pub(crate) struct Staged {
    root: PathBuf,
    archive: PathBuf,
    /// Symlink entries: clean path → clean target (both archive-relative).
    links: HashMap<PathBuf, PathBuf>,
}

impl Staged {
    /// Unpacks `archive` into the empty directory `root`.
    pub(crate) fn extract(archive: &Path, root: &Path) -> Result<Self, ImageError> {
        let file = File::open(archive).map_err(ImageError::io("open", archive))?;
        let mut staged = Self {
            root: root.to_owned(),
            archive: archive.to_owned(),
            links: HashMap::new(),
        };
        let mut tar = tar::Archive::new(io::BufReader::new(file));
        let entries = tar.entries().map_err(|e| staged.archive_error(e))?;
        for entry in entries {
            let entry = entry.map_err(|e| staged.archive_error(e))?;
            staged.add_entry(entry)?;
        }
        Ok(staged)
    }

    fn archive_error(&self, source: io::Error) -> ImageError {
        ImageError::Archive {
            path: self.archive.clone(),
            source,
        }
    }

    fn add_entry<R: io::Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ImageError> {
        let raw = entry
            .path()
            .map_err(|e| self.archive_error(e))?
            .into_owned();
        let unsafe_path = || ImageError::UnsafePath {
            container: self.archive.display().to_string(),
            entry: raw.display().to_string(),
        };
        let rel = clean_relative(&raw, false).ok_or_else(unsafe_path)?;
        let dest = self.root.join(&rel);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                fs::create_dir_all(&dest).map_err(ImageError::io("create", &dest))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(parent) = dest.parent() {
                    fs::create_dir_all(parent).map_err(ImageError::io("create", parent))?;
                }
                let expected = entry.size();
                let mut out = File::create(&dest).map_err(ImageError::io("create", &dest))?;
                let copied = io::copy(&mut entry, &mut out).map_err(|e| self.archive_error(e))?;
                if copied != expected {
                    let msg = format!("{} ends after {copied} of {expected} bytes", raw.display());
                    let eof = io::Error::new(io::ErrorKind::UnexpectedEof, msg);
                    return Err(self.archive_error(eof));
                }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| self.archive_error(e))?
                    .ok_or_else(unsafe_path)?;
                let joined = rel.parent().unwrap_or(Path::new("")).join(target);
                let target = resolve_dots(&joined).ok_or_else(unsafe_path)?;
                self.links.insert(rel, target);
            }
            other => {
                return Err(ImageError::UnsupportedEntry {
                    container: self.archive.display().to_string(),
                    entry: raw.display().to_string(),
                    kind: format!("{other:?}"),
                });
            }
        }
        Ok(())
    }

    /// The staged file for the archive path `name`, following symlinks
    /// recorded in the archive; [`ImageError::MissingBlob`] when absent.
    pub(crate) fn file(&self, name: &str) -> Result<PathBuf, ImageError> {
        let missing = || ImageError::MissingBlob {
            name: name.to_owned(),
        };
        let mut rel =
            clean_relative(Path::new(name), false).ok_or_else(|| ImageError::UnsafePath {
                container: self.archive.display().to_string(),
                entry: name.to_owned(),
            })?;
        for _ in 0..MAX_LINK_DEPTH {
            match self.links.get(&rel) {
                Some(target) => rel = target.clone(),
                None => {
                    let path = self.root.join(&rel);
                    return if path.is_file() {
                        Ok(path)
                    } else {
                        Err(missing())
                    };
                }
            }
        }
        Err(missing())
    }

    /// Reads the archive file `name` whole.
    pub(crate) fn read(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.file(name)?;
        fs::read(&path).map_err(ImageError::io("read", &path))
    }

    /// Whether the archive holds a file `name`.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.file(name).is_ok()
    }

    /// The staging directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }
}

/// Normalises `a/b/../c` to `a/c`; `None` when it climbs above the root.
fn resolve_dots(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}
