//! The baseline of `cargo xtask bench encrypted`: boringtun-cli as a plain
//! WireGuard tunnel between two namespaces joined by one veth pair.
//!
//! ```text
//!   bta: <tun a> 10.40.0.1/24 ── boringtun-cli ── veth 198.19.251.1/30 ──┐
//!   btb: <tun b> 10.40.0.2/24 ── boringtun-cli ── veth 198.19.251.2/30 ──┘
//! ```
//!
//! Neither tool is part of CI: `wg` comes from the `wireguard-tools` Debian
//! package and boringtun-cli from crates.io (`cargo install`), both
//! installed here when missing rather than by `cargo xtask setup`.

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, Result, bail};
use shoal_netns_tests::lab::Lab;
use shoal_netns_tests::lab::cmd::netns_command;
use shoal_netns_tests::overlay_kit::{Cidr, raw_veth_pair};

use super::measure::Pair;
use xtask::sh;

/// The boringtun-cli release installed when none is on the PATH (the
/// newest; builds on the workspace's rustc with `--locked`).
const BORINGTUN_CLI: &str = "boringtun-cli@0.7.1";
/// The baseline's UDP port (WireGuard's usual one; each end is in its own
/// namespace).
const PORT: &str = "51820";

/// The running baseline: both boringtun-cli processes, stopped when dropped.
pub(super) struct Baseline {
    /// Sender and receiver (the tunnel addresses).
    pub pair: Pair,
    daemons: Vec<Child>,
    ifaces: [String; 2],
}

impl Drop for Baseline {
    fn drop(&mut self) {
        for child in &mut self.daemons {
            let _ = child.kill();
            let _ = child.wait();
        }
        // boringtun-cli leaves its control socket behind when killed.
        for iface in &self.ifaces {
            let _ = std::fs::remove_file(format!("/var/run/wireguard/{iface}.sock"));
        }
    }
}

/// `wg` and `boringtun-cli`, installed if missing: the path to
/// boringtun-cli.
pub(super) fn ensure_tools() -> Result<String> {
    if which("wg").is_none() {
        // Only the userspace tool: recommends would pull a kernel.
        sh::run(Command::new("apt-get").args([
            "install",
            "-y",
            "--no-install-recommends",
            "wireguard-tools",
        ]))
        .context("installing wireguard-tools")?;
    }
    if let Some(path) = which("boringtun-cli") {
        return Ok(path);
    }
    sh::run(Command::new(env!("CARGO")).args(["install", "--locked", BORINGTUN_CLI]))
        .context("cargo install boringtun-cli")?;
    let home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    Ok(format!("{home}/bin/boringtun-cli"))
}

fn which(tool: &str) -> Option<String> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !path.trim().is_empty()).then(|| path.trim().to_owned())
}

/// Two namespaces, a veth between them, a boringtun-cli tunnel over it.
pub(super) fn start(lab: &mut Lab, boringtun: &str) -> Result<Baseline> {
    let (a, b) = (lab.add_netns("bta")?, lab.add_netns("btb")?);
    let underlay = [
        Ipv4Addr::new(198, 19, 251, 1),
        Ipv4Addr::new(198, 19, 251, 2),
    ];
    let cidr = |addr| Cidr { addr, prefix: 30 };
    raw_veth_pair(lab, &a, &b, cidr(underlay[0]), cidr(underlay[1]))?;
    // Interface names are global to the control sockets in
    // /var/run/wireguard: make them the lab's own.
    let id: Vec<char> = lab.id().to_string().chars().collect();
    let tag: String = id[id.len().saturating_sub(6)..].iter().collect();
    let ifaces = [format!("bt{tag}a"), format!("bt{tag}b")];
    let keys = [genkey()?, genkey()?];
    let mut baseline = Baseline {
        pair: Pair {
            sender: a.clone(),
            receiver: b.clone(),
            receiver_ip: Ipv4Addr::new(10, 40, 0, 2),
        },
        daemons: Vec::new(),
        ifaces: ifaces.clone(),
    };
    for (i, ns) in [&a, &b].into_iter().enumerate() {
        let peer = 1 - i;
        let mut daemon = netns_command(
            ns,
            &[
                boringtun,
                "--foreground",
                "--disable-drop-privileges",
                &ifaces[i],
            ],
        )?;
        daemon.stdout(Stdio::null()).stderr(Stdio::null());
        baseline
            .daemons
            .push(daemon.spawn().context("starting boringtun-cli")?);
        wait_for_socket(&ifaces[i])?;
        configure(ns, &ifaces[i], &keys[i].0, &keys[peer].1, underlay[peer])?;
        let addr = format!("10.40.0.{}/24", i + 1);
        sh::run(&mut netns_command(
            ns,
            &["ip", "addr", "add", &addr, "dev", &ifaces[i]],
        )?)?;
        sh::run(&mut netns_command(
            ns,
            &["ip", "link", "set", &ifaces[i], "up"],
        )?)?;
    }
    Ok(baseline)
}

/// A (private, public) key pair from `wg genkey | wg pubkey`.
fn genkey() -> Result<(String, String)> {
    let private = sh::output(Command::new("wg").arg("genkey"))?;
    let public = sh::output(
        Command::new("sh").args(["-c", &format!("echo {} | wg pubkey", private.trim())]),
    )?;
    Ok((private.trim().to_owned(), public.trim().to_owned()))
}

fn wait_for_socket(iface: &str) -> Result<()> {
    let socket = format!("/var/run/wireguard/{iface}.sock");
    for _ in 0..100 {
        if std::path::Path::new(&socket).exists() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    bail!("boringtun-cli made no control socket {socket}")
}

/// `wg set`: this end's key and port, the one peer at `endpoint`.
fn configure(ns: &str, iface: &str, private: &str, peer: &str, endpoint: Ipv4Addr) -> Result<()> {
    let key_file = std::env::temp_dir().join(format!("{iface}.key"));
    std::fs::write(&key_file, private).context("writing the baseline's key")?;
    let endpoint = format!("{endpoint}:{PORT}");
    let key_path = key_file.to_string_lossy();
    let set = sh::run(&mut netns_command(
        ns,
        &[
            "wg",
            "set",
            iface,
            "listen-port",
            PORT,
            "private-key",
            &key_path,
            "peer",
            peer,
            "endpoint",
            &endpoint,
            "allowed-ips",
            "10.40.0.0/24",
        ],
    )?);
    let _ = std::fs::remove_file(&key_file);
    set.map(|_| ())
}
