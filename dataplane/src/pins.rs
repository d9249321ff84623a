//! Where a node's pinned objects live: `/sys/fs/bpf/shoal/<node>/{maps,links}`.
//! The one module that knows pin paths (DESIGN.md §5.10).

use std::{
    ffi::CString,
    io,
    path::{Path, PathBuf},
};

/// Where bpffs is expected to be mounted.
pub const BPFFS_ROOT: &str = "/sys/fs/bpf";
/// Directory under bpffs that holds every node's pins.
pub const SHOAL_DIR: &str = "shoal";
/// `statfs` magic of a bpf filesystem.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Errors preparing or naming pin paths.
#[derive(Debug, thiserror::Error)]
pub enum PinsError {
    /// Node names become directory names.
    #[error("invalid node name {name:?}: use 1-64 characters of [A-Za-z0-9._-]")]
    InvalidNodeName {
        /// The rejected name.
        name: String,
    },
    /// bpffs is not mounted here and this process is in a private mount
    /// namespace (e.g. under `ip netns exec`), where a mount would vanish
    /// with the process and take every pin with it.
    #[error(
        "no bpffs at {path} and this process has a private mount namespace, where pins would not \
         outlive it; mount one from the host first (`mount -t bpf bpf {path}`) or point \
         SHOAL_BPFFS at one"
    )]
    PrivateMountNamespace {
        /// The requested mount point.
        path: PathBuf,
    },
    /// bpffs is not mounted and mounting it failed.
    #[error("cannot mount bpffs at {path}: {source}")]
    Mount {
        /// Mount point.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A pin directory could not be created or removed.
    #[error("pin directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// The pin directories of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinPaths {
    bpffs: PathBuf,
    root: PathBuf,
}

impl PinPaths {
    /// Pins of `node` under the default bpffs mount.
    pub fn for_node(node: &str) -> Result<Self, PinsError> {
        Self::under(Path::new(BPFFS_ROOT), node)
    }

    /// Pins of `node` under another bpffs mount point. Labs need this:
    /// `ip netns exec` remounts /sys privately, so pins under /sys/fs/bpf
    /// made inside it vanish with the command; a bpffs mounted elsewhere
    /// (e.g. under /run) is shared with every namespace.
    pub fn under(bpffs: &Path, node: &str) -> Result<Self, PinsError> {
        validate_node_name(node)?;
        Ok(Self {
            bpffs: bpffs.to_owned(),
            root: bpffs.join(SHOAL_DIR).join(node),
        })
    }

    /// The node's pin root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of pinned maps (one file per map name).
    pub fn maps(&self) -> PathBuf {
        self.root.join("maps")
    }

    /// Directory of pinned links (one file per attachment).
    pub fn links(&self) -> PathBuf {
        self.root.join("links")
    }

    /// The pinned map called `name`.
    pub fn map(&self, name: &str) -> PathBuf {
        self.maps().join(name)
    }

    /// Mount bpffs if needed and create the node's directories.
    pub fn prepare(&self) -> Result<(), PinsError> {
        ensure_bpffs(&self.bpffs)?;
        for dir in [self.maps(), self.links()] {
            std::fs::create_dir_all(&dir).map_err(|source| PinsError::Dir { path: dir, source })?;
        }
        Ok(())
    }

    /// Remove every pin of this node: detaches its links and frees its maps
    /// once no process holds them.
    pub fn remove_all(&self) -> Result<(), PinsError> {
        match std::fs::remove_dir_all(&self.root) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(PinsError::Dir {
                path: self.root.clone(),
                source: e,
            }),
            _ => Ok(()),
        }
    }
}

fn validate_node_name(name: &str) -> Result<(), PinsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PinsError::InvalidNodeName {
            name: name.to_owned(),
        })
    }
}

/// Mount a bpf filesystem at `path` unless one is already there.
pub fn ensure_bpffs(path: &Path) -> Result<(), PinsError> {
    let mount_err = |source| PinsError::Mount {
        path: path.to_owned(),
        source,
    };
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|e| mount_err(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    // SAFETY: statfs writes into a zeroed struct we own; c_path is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c_path.as_ptr(), &mut st) } == 0 && st.f_type as i64 == BPF_FS_MAGIC {
        return Ok(());
    }
    if in_private_mount_namespace() {
        return Err(PinsError::PrivateMountNamespace {
            path: path.to_owned(),
        });
    }
    std::fs::create_dir_all(path).map_err(mount_err)?;
    let fstype = c"bpf";
    // SAFETY: all pointers are valid NUL-terminated strings for the call's duration.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            c_path.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(mount_err(io::Error::last_os_error()));
    }
    Ok(())
}

/// Whether this process's mount namespace differs from init's or, where
/// init's cannot be read (as in some sandboxes), from its parent's — which
/// is how `ip netns exec` leaves it.
fn in_private_mount_namespace() -> bool {
    let ns = |p: String| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let Ok(me) = ns("/proc/self/ns/mnt".into()) else {
        return false;
    };
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    ns("/proc/1/ns/mnt".into())
        .or_else(|_| ns(format!("/proc/{parent}/ns/mnt")))
        .is_ok_and(|other| other != me)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_become_safe_directories() {
        let pins = PinPaths::under(Path::new("/x"), "node-1.lab").unwrap();
        assert_eq!(
            pins.map("shoal_stats_v1"),
            Path::new("/x/shoal/node-1.lab/maps/shoal_stats_v1")
        );
        for bad in ["", "..", "a/b", "a b", &"n".repeat(65)] {
            assert!(
                PinPaths::under(Path::new("/x"), bad).is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
