//! Named local volumes (Docker's `local` driver): a directory per volume
//! under the node's state dir, `<state>/volumes/<name>/_data`, created on
//! first use and kept until removed, so a task's data outlives the task
//! and reaches its replacement on the same node. A new volume mounted over
//! a directory of the image starts as a copy of it (Docker's behaviour,
//! unless the mount says `volume-nocopy`). A volume some container on the
//! node still mounts cannot be removed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

/// Longest volume name.
pub const MAX_NAME_LEN: usize = 255;

/// Why a volume operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// The name is not usable as a directory name.
    #[error("invalid volume name {name:?}: [a-zA-Z0-9][a-zA-Z0-9_.-]* of at most 255 characters")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// No volume with this name.
    #[error("no such volume: {name}")]
    NotFound {
        /// The name.
        name: String,
    },
    /// Containers on the node mount it.
    #[error("remove {name}: volume is in use - [{}]", users.join(", "))]
    InUse {
        /// The volume.
        name: String,
        /// The containers mounting it.
        users: Vec<String>,
    },
    /// Copying the image's files into a new volume failed.
    #[error("copying the image's {target} into volume {name}: {reason}")]
    CopyUp {
        /// The volume.
        name: String,
        /// Where it is mounted.
        target: String,
        /// What `cp` said.
        reason: String,
    },
    /// A file or directory operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> VolumeError + use<> {
    let path = path.to_owned();
    move |source| VolumeError::Io { op, path, source }
}

/// One volume as `volume ls/inspect` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Its name.
    pub name: String,
    /// Where its data lives on the node.
    pub mountpoint: PathBuf,
    /// When it was created (seconds since the epoch).
    pub created_at_secs: u64,
}

/// The node's volumes.
#[derive(Debug, Clone)]
pub struct Volumes {
    root: PathBuf,
}

/// Checks a volume name (it names a directory).
pub fn check_name(name: &str) -> Result<(), VolumeError> {
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if first_ok && rest_ok && name.len() <= MAX_NAME_LEN {
        Ok(())
    } else {
        Err(VolumeError::InvalidName {
            name: name.to_owned(),
        })
    }
}

impl Volumes {
    /// The volumes under `<state_dir>/volumes`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            root: state_dir.join("volumes"),
        }
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The data directory of volume `name`, created if it did not exist;
    /// `true` when it was created now.
    pub fn ensure(&self, name: &str) -> Result<(PathBuf, bool), VolumeError> {
        check_name(name)?;
        let data = self.dir(name).join("_data");
        if data.is_dir() {
            return Ok((data, false));
        }
        fs::create_dir_all(&data).map_err(io_err("create", &data))?;
        Ok((data, true))
    }

    /// Fills a volume created now with the image's `source` directory
    /// (owners, modes and times kept), if the image has one there.
    pub fn copy_up(&self, name: &str, source: &Path, target: &str) -> Result<(), VolumeError> {
        if !source.is_dir() {
            return Ok(());
        }
        let data = self.dir(name).join("_data");
        let output = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", source.display()))
            .arg(&data)
            .output()
            .map_err(io_err("run cp into", &data))?;
        if output.status.success() {
            return Ok(());
        }
        Err(VolumeError::CopyUp {
            name: name.to_owned(),
            target: target.to_owned(),
            reason: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }

    /// Volume `name`.
    pub fn inspect(&self, name: &str) -> Result<VolumeInfo, VolumeError> {
        check_name(name)?;
        let dir = self.dir(name);
        let meta = fs::metadata(dir.join("_data")).map_err(|_| VolumeError::NotFound {
            name: name.to_owned(),
        })?;
        let created_at_secs = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        Ok(VolumeInfo {
            name: name.to_owned(),
            mountpoint: dir.join("_data"),
            created_at_secs,
        })
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<VolumeInfo>, VolumeError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(io_err("read", &self.root)(err)),
        };
        let mut volumes: Vec<VolumeInfo> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|name| self.inspect(&name).ok())
            .collect();
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(volumes)
    }

    /// Removes volume `name` and its data, unless `users` (the containers
    /// on the node mounting it) is not empty.
    pub fn remove(&self, name: &str, users: Vec<String>) -> Result<(), VolumeError> {
        self.inspect(name)?;
        if !users.is_empty() {
            return Err(VolumeError::InUse {
                name: name.to_owned(),
                users,
            });
        }
        let dir = self.dir(name);
        fs::remove_dir_all(&dir).map_err(io_err("remove", &dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_are_created_once_copied_up_listed_and_removed_unless_used() {
        let state = tempfile::tempdir().expect("tempdir");
        let volumes = Volumes::new(state.path());
        let (data, created) = volumes.ensure("db").expect("created");
        assert!(created && data.is_dir());
        fs::write(data.join("row"), "1").expect("write");
        assert_eq!(volumes.ensure("db").expect("again"), (data.clone(), false));
        let image = state.path().join("image-dir");
        fs::create_dir_all(image.join("sub")).expect("image dir");
        fs::write(image.join("sub/conf"), "x").expect("image file");
        volumes.ensure("web").expect("web");
        volumes.copy_up("web", &image, "/etc/app").expect("copy up");
        let web = volumes.inspect("web").expect("web");
        assert_eq!(
            fs::read_to_string(web.mountpoint.join("sub/conf"))
                .ok()
                .as_deref(),
            Some("x")
        );
        let names: Vec<String> = volumes
            .list()
            .expect("list")
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, ["db", "web"]);
        let in_use = volumes.remove("db", vec!["t1".into()]).expect_err("in use");
        assert_eq!(in_use.to_string(), "remove db: volume is in use - [t1]");
        volumes.remove("db", Vec::new()).expect("removed");
        assert!(matches!(
            volumes.inspect("db"),
            Err(VolumeError::NotFound { .. })
        ));
        for bad in ["", "../x", ".hidden", "a/b"] {
            assert!(volumes.ensure(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
