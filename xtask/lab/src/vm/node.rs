//! One lab VM: qemu started inside the lab's namespace on its TAP, booting
//! the image's kernel with the node's name and underlay address on the
//! command line, its disk a qcow2 overlay on the image (thrown away by
//! `vm down`). qemu daemonizes; its pid file is how later commands find it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use xtask::sh;

use super::image::Image;
use super::layout::{Dirs, PREFIX_LEN, node_addr, node_name, tap_name};
use super::net;

/// Each VM's memory (MiB) and vCPUs: small, the machine is shared.
const MEMORY_MIB: &str = "1024";
const VCPUS: &str = "1";

/// How qemu runs the guest's CPU.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Accel {
    /// Emulation: works everywhere, slow (a boot takes about a minute).
    Tcg,
    /// Hardware virtualisation, where /dev/kvm can run a guest.
    Kvm,
}

/// The kernel command line of node `index`: root on the whole disk, the
/// console on the serial port, `eth0` (not a PCI-slot name) configured
/// from `ip=` by systemd-network-generator, the host name.
fn cmdline(index: usize) -> String {
    let addr = node_addr(index);
    let name = node_name(index);
    format!(
        "root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.hostname={name} \
         ip={addr}:::{}::eth0:off",
        mask(PREFIX_LEN)
    )
}

/// `255.255.255.0` for 24.
fn mask(prefix_len: u8) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::MAX << (32 - u32::from(prefix_len)))
}

/// Node `index`'s pid file.
fn pid_file(dirs: &Dirs, index: usize) -> PathBuf {
    dirs.node(&node_name(index)).join("qemu.pid")
}

/// Boots node `index` (its TAP must exist).
pub fn boot(dirs: &Dirs, image: &Image, index: usize, accel: Accel) -> Result<()> {
    let dir = dirs.node(&node_name(index));
    fs::create_dir_all(&dir)?;
    let disk = dir.join("disk.qcow2");
    if !disk.exists() {
        sh::run(
            Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
                .arg(&image.rootfs)
                .arg(&disk),
        )?;
    }
    let accel = match accel {
        Accel::Tcg => "tcg",
        Accel::Kvm => "kvm",
    };
    let mac = format!("52:54:00:12:01:{:02x}", 10 + index);
    let mut qemu = net::command("qemu-system-x86_64");
    qemu.args(["-accel", accel, "-m", MEMORY_MIB, "-smp", VCPUS, "-kernel"])
        .arg(&image.kernel)
        .arg("-initrd")
        .arg(&image.initrd)
        .args(["-append", &cmdline(index), "-drive"])
        .arg(format!("file={},if=virtio,format=qcow2", disk.display()))
        .arg("-netdev")
        .arg(format!(
            "tap,id=underlay,ifname={},script=no,downscript=no",
            tap_name(index)
        ))
        .args([
            "-device",
            &format!("virtio-net-pci,netdev=underlay,mac={mac}"),
        ])
        .args(["-display", "none", "-serial"])
        .arg(format!("file:{}", dir.join("console.log").display()))
        .args(["-daemonize", "-pidfile"])
        .arg(pid_file(dirs, index));
    sh::run(&mut qemu)
}

/// The nodes with a running qemu, by index.
pub fn running(dirs: &Dirs) -> Vec<usize> {
    (1..=super::layout::MAX_NODES)
        .filter(|&index| pid(dirs, index).is_some_and(alive))
        .collect()
}

fn pid(dirs: &Dirs, index: usize) -> Option<i32> {
    fs::read_to_string(pid_file(dirs, index))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Stops node `index`'s qemu (SIGTERM: the guest is thrown away with its
/// overlay, so no clean shutdown is needed) and waits until it is gone.
pub fn stop(dirs: &Dirs, index: usize) -> Result<()> {
    let Some(pid) = pid(dirs, index) else {
        return Ok(());
    };
    // SAFETY: kill has no memory preconditions; pid is the qemu this lab started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while alive(pid) {
        if Instant::now() > deadline {
            bail!("qemu {pid} (node{index}) did not stop");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // qemu removes its pid file as it exits; one left behind goes here.
    match fs::remove_file(pid_file(dirs, index)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err).context("pid file"),
        _ => Ok(()),
    }
}
