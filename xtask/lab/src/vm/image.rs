//! `cargo xtask vm image`: the lab's VM image, built here from the Debian
//! mirror with mmdebstrap — Debian trixie (kernel 6.12: shoal's loader
//! attaches with TCX, kernel ≥ 6.6, and reads the kernel's BTF; bookworm's
//! 6.1 has no TCX), systemd, sshd, runc — as a qcow2 root file system plus
//! the kernel and initrd it boots with (direct kernel boot, no bootloader).
//!
//! Cached in `target/vm/image-<key>/`, where the key is a hash of what the
//! image is made of (suite, package list, the customize script, the lab's
//! public key): it is rebuilt only when one of those changes. shoal's
//! package is not in the image: `vm up` installs it on each node, so a
//! shoal change does not rebuild the image.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result};
use xtask::sh;

use super::layout::Dirs;

/// The Debian suite the image is made from.
const SUITE: &str = "trixie";
/// The mirror (the one this machine's apt uses).
const MIRROR: &str = "http://deb.debian.org/debian";
/// What the image holds beyond Debian's `apt` variant: the kernel, systemd
/// as init, sshd (the lab's way in), runc and iproute2 (shoal's package
/// depends on them), busybox (the token server of provision.sh), curl
/// (provision.sh fetches the join token), sudo (Vagrant's user).
const PACKAGES: &str = "linux-image-amd64,systemd-sysv,udev,dbus,openssh-server,runc,iproute2,\
                        busybox,kmod,procps,curl,sudo,iputils-ping";
/// The root file system's size (sparse in the qcow2: about 400 MB used).
const DISK_SIZE: &str = "3G";

/// A built image: what `vm up` boots.
pub struct Image {
    /// The root file system (ext4 on the whole disk), qcow2.
    pub rootfs: PathBuf,
    /// The Debian kernel.
    pub kernel: PathBuf,
    /// Its initrd.
    pub initrd: PathBuf,
}

impl Image {
    fn in_dir(dir: &Path) -> Image {
        Image {
            rootfs: dir.join("rootfs.qcow2"),
            kernel: dir.join("vmlinuz"),
            initrd: dir.join("initrd.img"),
        }
    }
}

/// Installs the host tools the image and the VMs need, if missing (only
/// the VM lab needs them, so `cargo xtask setup` does not install them).
pub fn ensure_tools() -> Result<()> {
    let missing = [
        ("mmdebstrap", "mmdebstrap"),
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("qemu-img", "qemu-utils"),
        ("ssh", "openssh-client"),
    ]
    .into_iter()
    .filter(|(tool, _)| {
        !sh::succeeds(Command::new("sh").args(["-c", &format!("command -v {tool}")]))
    })
    .map(|(_, package)| package)
    .collect::<Vec<_>>();
    if missing.is_empty() {
        return Ok(());
    }
    println!("vm: installing {}", missing.join(" "));
    sh::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// The lab's ssh key, generated on first use.
pub fn ensure_key(dirs: &Dirs) -> Result<PathBuf> {
    let key = dirs.key();
    if !key.exists() {
        fs::create_dir_all(&dirs.root)?;
        sh::run(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "shoal-vm-lab", "-f"])
                .arg(&key),
        )?;
    }
    Ok(key)
}

/// The cache key: a hash of everything the image is made of.
fn cache_key(dirs: &Dirs, key: &Path) -> Result<String> {
    let mut inputs = format!("{SUITE}\n{MIRROR}\n{PACKAGES}\n{DISK_SIZE}\n");
    for file in [
        dirs.vagrant("image-customize.sh"),
        key.with_extension("pub"),
    ] {
        inputs.push_str(&fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?);
    }
    let scratch = dirs.root.join("image-inputs");
    fs::write(&scratch, inputs)?;
    let sum = sh::output(Command::new("sha256sum").arg(&scratch))?;
    fs::remove_file(&scratch).ok();
    Ok(sum.chars().take(16).collect())
}

/// The image for the current inputs, built if it is not cached.
pub fn ensure(dirs: &Dirs) -> Result<Image> {
    ensure_tools()?;
    let key = ensure_key(dirs)?;
    let dir = dirs.root.join(format!("image-{}", cache_key(dirs, &key)?));
    let done = dir.join("done");
    if done.exists() {
        println!("vm: image {} (cached)", dir.display());
        return Ok(Image::in_dir(&dir));
    }
    let started = std::time::Instant::now();
    println!(
        "vm: building the image {} from {MIRROR} ({SUITE})",
        dir.display()
    );
    build(dirs, &key, &dir)?;
    fs::write(&done, "")?;
    println!("vm: image built in {:.0?}", started.elapsed());
    remove_stale(dirs, &dir);
    Ok(Image::in_dir(&dir))
}

/// mmdebstrap into a directory, then an ext4 file system made from it
/// (`mkfs.ext4 -d`: nothing mounted), converted to qcow2.
fn build(dirs: &Dirs, key: &Path, dir: &Path) -> Result<()> {
    let rootfs = dirs.root.join("rootfs-build");
    if rootfs.exists() {
        fs::remove_dir_all(&rootfs)?;
    }
    fs::create_dir_all(dir)?;
    let hook = format!(
        "{} \"$1\" {}",
        dirs.vagrant("image-customize.sh").display(),
        key.with_extension("pub").display()
    );
    sh::run(
        Command::new("mmdebstrap")
            .args([
                "--mode=root",
                "--variant=apt",
                "--format=directory",
                "--quiet",
            ])
            .arg(format!("--include={PACKAGES}"))
            .arg(format!("--customize-hook={hook}"))
            .arg(SUITE)
            .arg(&rootfs)
            .arg(MIRROR),
    )?;
    let image = Image::in_dir(dir);
    for (prefix, to) in [("vmlinuz-", &image.kernel), ("initrd.img-", &image.initrd)] {
        let from = boot_file(&rootfs, prefix)?;
        fs::copy(&from, to).with_context(|| format!("{}", from.display()))?;
    }
    let raw = dir.join("rootfs.raw");
    sh::run(Command::new("truncate").args(["-s", DISK_SIZE]).arg(&raw))?;
    sh::run(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "shoal-root", "-d"])
            .arg(&rootfs)
            .arg(&raw),
    )?;
    sh::run(
        Command::new("qemu-img")
            .args(["convert", "-O", "qcow2"])
            .arg(&raw)
            .arg(&image.rootfs),
    )?;
    fs::remove_file(&raw)?;
    fs::remove_dir_all(&rootfs)?;
    Ok(())
}

/// The one `/boot/<prefix>*` file of the built root file system.
fn boot_file(rootfs: &Path, prefix: &str) -> Result<PathBuf> {
    fs::read_dir(rootfs.join("boot"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .with_context(|| format!("no /boot/{prefix}* in the image"))
}

/// Removes images built from older inputs (they are large), unless a node
/// is running (its disk overlay may be backed by one of them).
fn remove_stale(dirs: &Dirs, keep: &Path) {
    if dirs.root.join("nodes").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(&dirs.root) else {
        return;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let stale = path != keep
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("image-"));
        if stale {
            fs::remove_dir_all(&path).ok();
        }
    }
}
