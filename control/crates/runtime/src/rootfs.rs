//! A container's root filesystem and secrets on the host.
//!
//! The rootfs is an overlayfs mounted at `<bundle>/rootfs` before
//! `runc create`: the image's unpacked layers (shared by every container
//! of the image, never written) as lower dirs, and a per-container
//! `upper`/`work` pair in the bundle, so writes stay with the container
//! and go away with it. Secrets live on a tmpfs mounted at
//! `<bundle>/secrets` (never on disk) and are bind-mounted read-only at
//! `/run/secrets`.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::RuntimeError;
use super::spec::{ContainerFile, SecretFile};
use super::sys;

/// Room on the secrets tmpfs beyond the secrets' own bytes.
const SECRETS_SLACK: usize = 64 * 1024;

/// Mounts the overlay rootfs of a container whose bundle is `bundle`;
/// `layers` base first.
pub(crate) fn mount_overlay(bundle: &Path, layers: &[PathBuf]) -> Result<PathBuf, RuntimeError> {
    let [rootfs, upper, work] = ["rootfs", "upper", "work"].map(|d| bundle.join(d));
    for dir in [&rootfs, &upper, &work] {
        fs::create_dir_all(dir).map_err(RuntimeError::io("create", dir))?;
    }
    for path in layers.iter().chain([&upper, &work]) {
        let text = path.to_string_lossy();
        if text.contains([',', ':']) {
            return Err(RuntimeError::InvalidSpec {
                field: "state directory",
                value: text.into_owned(),
                reason: "overlayfs paths cannot contain ',' or ':'",
            });
        }
    }
    // overlayfs wants the topmost lower dir first.
    let lower: Vec<_> = layers.iter().rev().map(|l| l.to_string_lossy()).collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    );
    sys::mount("overlay", &rootfs, 0, &data)
        .map_err(RuntimeError::mount("mount overlay", &rootfs))?;
    Ok(rootfs)
}

/// Mounts a tmpfs at `<bundle>/secrets` holding exactly `secrets`;
/// `None` when there are none.
pub(crate) fn mount_secrets(
    bundle: &Path,
    secrets: &[SecretFile],
) -> Result<Option<PathBuf>, RuntimeError> {
    if secrets.is_empty() {
        return Ok(None);
    }
    let dir = bundle.join("secrets");
    fs::create_dir_all(&dir).map_err(RuntimeError::io("create", &dir))?;
    let size = secrets.iter().map(|s| s.data.len()).sum::<usize>() + SECRETS_SLACK;
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    let data = format!("mode=0755,size={size}");
    sys::mount("tmpfs", &dir, flags, &data).map_err(RuntimeError::mount("mount tmpfs", &dir))?;
    for secret in secrets {
        write_secret(&dir, secret)?;
    }
    Ok(Some(dir))
}

/// Writes one secret below `dir` with its owner and mode; directories on
/// the way are 0755 root, so any user can reach a file its mode lets it
/// read.
fn write_secret(dir: &Path, secret: &SecretFile) -> Result<(), RuntimeError> {
    let path = dir.join(&secret.name);
    if let Some(parent) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(RuntimeError::io("create", parent))?;
    }
    fs::write(&path, &secret.data).map_err(RuntimeError::io("write secret", &path))?;
    std::os::unix::fs::chown(&path, Some(secret.uid), Some(secret.gid))
        .map_err(RuntimeError::io("chown secret", &path))?;
    // After chown, which may clear set-id bits.
    fs::set_permissions(&path, fs::Permissions::from_mode(secret.mode))
        .map_err(RuntimeError::io("chmod secret", &path))?;
    Ok(())
}

/// Writes `files` into `<bundle>/files` (one numbered file each, with
/// its owner and mode) and returns their host paths, in order.
pub(crate) fn write_files(
    bundle: &Path,
    files: &[ContainerFile],
) -> Result<Vec<PathBuf>, RuntimeError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let dir = bundle.join("files");
    fs::create_dir_all(&dir).map_err(RuntimeError::io("create", &dir))?;
    let mut paths = Vec::with_capacity(files.len());
    for (index, file) in files.iter().enumerate() {
        let path = dir.join(index.to_string());
        fs::write(&path, &file.contents).map_err(RuntimeError::io("write", &path))?;
        std::os::unix::fs::chown(&path, Some(file.uid), Some(file.gid))
            .map_err(RuntimeError::io("chown", &path))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(file.mode))
            .map_err(RuntimeError::io("chmod", &path))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Unmounts the rootfs and the secrets tmpfs of a bundle (whichever are
/// mounted).
pub(crate) fn unmount(bundle: &Path) -> Result<(), RuntimeError> {
    for dir in ["secrets", "rootfs"].map(|d| bundle.join(d)) {
        if sys::is_mount_point(&dir) {
            sys::umount(&dir).map_err(RuntimeError::mount("unmount", &dir))?;
        }
    }
    Ok(())
}
