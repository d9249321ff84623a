//! `cargo xtask vm box`: the lab's image as a local Vagrant box for
//! vagrant-libvirt (`shoal/trixie`), so `vagrant/` needs nothing from the
//! internet. The box holds the image's qcow2 disk; the kernel and initrd it
//! boots with (the image has no bootloader) go to `target/vm/box/`, where
//! the Vagrantfile points vagrant-libvirt's direct kernel boot.

use std::fs;
use std::process::Command;

use anyhow::{Context as _, Result};
use xtask::sh;

use super::image;
use super::layout::Dirs;

/// The box's name, as the Vagrantfile names it.
pub const BOX_NAME: &str = "shoal/trixie";

/// Builds the box from the (cached) image and adds it to Vagrant.
pub fn run(dirs: &Dirs) -> Result<()> {
    ensure_vagrant()?;
    let image = image::ensure(dirs)?;
    let dir = dirs.root.join("box");
    fs::create_dir_all(&dir)?;
    for (from, to) in [(&image.kernel, "vmlinuz"), (&image.initrd, "initrd.img")] {
        fs::copy(from, dir.join(to)).with_context(|| format!("{}", from.display()))?;
    }
    fs::write(
        dir.join("metadata.json"),
        "{\"provider\": \"libvirt\", \"format\": \"qcow2\", \"virtual_size\": 3}\n",
    )?;
    let boxfile = dir.join("shoal-trixie.box");
    // box.img is the image's disk, renamed inside the tar (no copy on disk).
    let disk_dir = image.rootfs.parent().context("image dir")?;
    sh::run(
        Command::new("tar")
            .arg("-cf")
            .arg(&boxfile)
            .arg("-C")
            .arg(&dir)
            .arg("metadata.json")
            .arg("-C")
            .arg(disk_dir)
            .args(["--transform", "s,^rootfs.qcow2$,box.img,", "rootfs.qcow2"]),
    )?;
    sh::run(
        Command::new("vagrant")
            .args(["box", "add", "--force", "--name", BOX_NAME])
            .arg(&boxfile),
    )?;
    fs::remove_file(&boxfile).ok();
    println!(
        "vm: Vagrant box {BOX_NAME} added; then: cargo xtask deb && cd vagrant && \
         ip netns exec {VAGRANT_NETNS} vagrant up --provider libvirt"
    );
    Ok(())
}

/// The network namespace libvirtd runs in for the Vagrant lab, so that its
/// bridges (the isolated management network, the 198.18.1.0/24 underlay)
/// live there and not in the host's namespace; run Vagrant in it too.
pub const VAGRANT_NETNS: &str = "shoal-vagrant";

/// Installs Vagrant, vagrant-libvirt and libvirt if missing, and starts
/// libvirtd (and virtlogd) inside [`VAGRANT_NETNS`] unless one answers.
fn ensure_vagrant() -> Result<()> {
    let have =
        |tool: &str| sh::succeeds(Command::new("sh").args(["-c", &format!("command -v {tool}")]));
    let plugin =
        sh::output(Command::new("dpkg-query").args(["-W", "-f", "${Status}", "vagrant-libvirt"]))
            .is_ok_and(|s| s.contains("ok installed"));
    if !have("vagrant") || !have("libvirtd") || !plugin {
        sh::run(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(["vagrant", "vagrant-libvirt", "libvirt-daemon-system"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    if sh::succeeds(Command::new("virsh").args(["-c", "qemu:///system", "version"])) {
        return Ok(());
    }
    let in_netns = sh::output(Command::new("ip").args(["netns", "list"]))?
        .lines()
        .any(|l| l.split_whitespace().next() == Some(VAGRANT_NETNS));
    if !in_netns {
        sh::run(Command::new("ip").args(["netns", "add", VAGRANT_NETNS]))?;
    }
    sh::run(Command::new("ip").args(["-n", VAGRANT_NETNS, "link", "set", "lo", "up"]))?;
    for daemon in ["virtlogd", "libvirtd"] {
        sh::run(Command::new("ip").args(["netns", "exec", VAGRANT_NETNS, daemon, "--daemon"]))?;
    }
    println!(
        "vm: libvirtd runs in the namespace {VAGRANT_NETNS}; run Vagrant there too: \
         `ip netns exec {VAGRANT_NETNS} vagrant up`"
    );
    Ok(())
}
