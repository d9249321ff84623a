//! ssh and scp to the lab's VMs, from inside the lab's namespace, as root
//! with the lab's key (the VMs' host keys are the image's, shared and
//! thrown away with the lab: not checked).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use xtask::sh;

use super::net;

/// ssh options every call uses.
const OPTIONS: [&str; 10] = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "BatchMode=yes",
];

/// The way into the VMs.
#[derive(Clone)]
pub struct Ssh {
    key: PathBuf,
}

impl Ssh {
    /// ssh with the lab's `key`.
    pub fn new(key: &Path) -> Ssh {
        Ssh {
            key: key.to_owned(),
        }
    }

    /// `ssh root@addr SCRIPT` (run by the VM's shell).
    pub fn command(&self, addr: Ipv4Addr, script: &str) -> Command {
        let mut cmd = net::command("ssh");
        cmd.arg("-i")
            .arg(&self.key)
            .args(OPTIONS)
            .arg(format!("root@{addr}"))
            .arg(script);
        cmd
    }

    /// Runs `script` on the VM at `addr`; its standard output.
    pub fn run(&self, addr: Ipv4Addr, script: &str) -> Result<String> {
        sh::output(&mut self.command(addr, script))
    }

    /// Copies `local` to `remote` on the VM at `addr`.
    pub fn copy(&self, addr: Ipv4Addr, local: &Path, remote: &str) -> Result<()> {
        sh::run(
            net::command("scp")
                .arg("-i")
                .arg(&self.key)
                .args(OPTIONS)
                .arg("-q")
                .arg(local)
                .arg(format!("root@{addr}:{remote}")),
        )
    }

    /// Waits until the VM at `addr` answers ssh (boot under TCG takes a
    /// minute or so on a busy machine).
    pub fn wait(&self, addr: Ipv4Addr, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if sh::succeeds(&mut self.command(addr, "true")) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{addr} did not answer ssh within {limit:?}");
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}
