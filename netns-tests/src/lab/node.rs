//! One namespace of a lab (a shoal node or a client) and how to run things in it.

use std::ffi::OsStr;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use super::cmd::{self, CmdError};

/// Background processes of a lab, killed when the lab is torn down.
pub(crate) type ProcessRegistry = Arc<Mutex<Vec<Child>>>;

/// What role a namespace plays in the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A shoal node, 1-based index.
    Node(usize),
    /// A client on the underlay, 1-based index in creation order (0 if unknown,
    /// e.g. for an attached lab).
    Client(usize),
}

/// A process started with [`Node::spawn`]; it is killed when the lab is dropped.
#[derive(Debug, Clone)]
pub struct Spawned {
    /// Process id (of the command itself: `ip netns exec` execs into it).
    pub pid: u32,
    /// File receiving the process's stdout and stderr.
    pub log: PathBuf,
}

/// A namespace in a lab: a shoal node or a client.
#[derive(Debug, Clone)]
pub struct Node {
    pub(crate) name: String,
    pub(crate) kind: NodeKind,
    pub(crate) addr: Ipv4Addr,
    pub(crate) state_dir: PathBuf,
    pub(crate) procs: ProcessRegistry,
}

impl Node {
    /// The namespace name, also the node's bpffs pin name (`shoal … --node <name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is a shoal node or a client.
    pub fn kind(&self) -> NodeKind {
        self.kind
    }

    /// Underlay address of `eth0` (prefix length 24).
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// This member's private state directory (removed with the lab).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// A prepared `ip netns exec <ns> <args…>` for callers that need custom stdio.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Command, CmdError> {
        cmd::netns_command(&self.name, args)
    }

    /// Runs `args` inside the namespace and returns its stdout.
    pub fn exec<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String, CmdError> {
        cmd::output(self.command(args)?)
    }

    /// Runs a `sh -c` script inside the namespace and returns its stdout.
    pub fn sh(&self, script: &str) -> Result<String, CmdError> {
        self.exec(&["sh", "-c", script])
    }

    /// Starts `args` in the background inside the namespace, logging stdout and
    /// stderr to a file in the state directory. Killed when the lab is dropped.
    pub fn spawn<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Spawned, CmdError> {
        self.spawn_command(self.command(args)?)
    }

    /// Starts a prepared command (e.g. from [`Node::shoal_command`]) in the
    /// background like [`Node::spawn`]; it is killed when the lab is dropped.
    pub fn spawn_command(&self, mut command: Command) -> Result<Spawned, CmdError> {
        let mut procs = self.procs.lock().unwrap_or_else(PoisonError::into_inner);
        let log = self.state_dir.join(format!("spawn-{}.log", procs.len()));
        let log_err = |source| CmdError::LogFile {
            path: log.clone(),
            source,
        };
        let stdout = File::create(&log).map_err(log_err)?;
        let stderr = stdout.try_clone().map_err(log_err)?;
        command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        let child = command.spawn().map_err(|source| CmdError::Spawn {
            command: cmd::describe(&command),
            source,
        })?;
        let pid = child.id();
        procs.push(child);
        Ok(Spawned { pid, log })
    }

    /// Sends hand-built Ethernet frames out of `iface` in this namespace.
    pub fn send_raw_frames(
        &self,
        iface: &str,
        frames: &[Vec<u8>],
    ) -> Result<(), super::raw::RawError> {
        super::raw::send_frames(&self.name, iface, frames)
    }

    /// Runs `f` on a thread inside this namespace (sockets it opens live here).
    pub fn run_in<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, super::raw::RawError> {
        super::raw::in_netns(&self.name, f)
    }

    /// Sends one ICMP echo to `target` (2 s timeout), using `ping` if installed,
    /// else busybox's.
    pub fn ping(&self, target: Ipv4Addr) -> Result<(), CmdError> {
        let target = target.to_string();
        let mut args = vec!["ping", "-c1", "-W2", &target];
        if !on_path("ping") {
            args.insert(0, "busybox");
        }
        self.exec(&args).map(drop)
    }

    /// Runs the `shoal` binary (see [`shoal_bin`]) in this node's network namespace
    /// with `args`, e.g. `["dp", "attach", "--iface", "eth0"]`; `SHOAL_NODE` is set to
    /// the node's name.
    pub fn shoal<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String, CmdError> {
        cmd::output(self.shoal_command(args))
    }

    /// Starts `shoal <args…>` (e.g. a daemon) in the background; killed with the lab.
    pub fn spawn_shoal<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Spawned, CmdError> {
        self.spawn_command(self.shoal_command(args))
    }

    /// A prepared `shoal <args…>` in this node's network namespace. It runs via
    /// `nsenter --net` rather than `ip netns exec` so it keeps the host's mounts:
    /// `ip netns exec` remounts /sys, hiding /sys/fs/bpf, and pins made there
    /// would vanish with the command.
    pub fn shoal_command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{}", self.name))
            .arg("--")
            .arg(shoal_bin())
            .args(args)
            // The node's name is its pin directory and its identity.
            .env("SHOAL_NODE", &self.name);
        command
    }
}

/// Path of the `shoal` binary: `$SHOAL_BIN`, else `$CARGO_TARGET_DIR/debug/shoal`,
/// else `target/debug/shoal` under the workspace root.
pub fn shoal_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SHOAL_BIN") {
        return bin.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("debug/shoal");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/shoal")
}

/// Whether `program` is an executable file in one of `$PATH`'s directories.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}
