//! What a caller asks for: [`ContainerSpec`], and what it gets back.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::RuntimeError;

/// Longest container id (it also names the netns `shoal-<id>`).
pub const MAX_ID_LEN: usize = 64;

/// A container to create.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// Unique id (`[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 64 characters).
    pub id: String,
    /// Image reference (`repo[:tag]`, image id or a unique id prefix).
    pub image: String,
    /// Replaces the image's entrypoint (and then drops the image's cmd).
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's cmd.
    pub args: Option<Vec<String>>,
    /// `KEY=value` entries, added to (and overriding) the image's.
    pub env: Vec<String>,
    /// Hostname (the id when unset).
    pub hostname: Option<String>,
    /// Working directory (the image's, else `/`).
    pub workdir: Option<String>,
    /// The process's user, numeric `uid[:gid]` (the image's when unset).
    pub user: Option<String>,
    /// Run without the default seccomp profile (`--security-opt
    /// seccomp=unconfined`).
    pub seccomp_unconfined: bool,
    /// Resource limits.
    pub resources: Resources,
    /// Bind mounts from the host.
    pub mounts: Vec<BindMount>,
    /// Named local volumes (created on first use).
    pub volumes: Vec<VolumeMount>,
    /// tmpfs mounts.
    pub tmpfs: Vec<TmpfsMount>,
    /// Files for `/run/secrets` (a tmpfs; only this task's secrets).
    pub secrets: Vec<SecretFile>,
    /// Files put over paths of the image, read-only (`/etc/resolv.conf`,
    /// `/etc/hosts`, `/etc/hostname`): written into the bundle and
    /// bind-mounted, so the image's own files stay untouched.
    pub files: Vec<ContainerFile>,
    /// Mount the root filesystem read-only (`--read-only`).
    pub read_only_rootfs: bool,
    /// A static init (tini) run as the container's PID 1 (`--init`): it
    /// reaps orphans and passes signals on. Bind-mounted read-only at
    /// [`crate::INIT_TARGET`], the command runs under it.
    pub init: Option<PathBuf>,
    /// Capabilities added to Docker's default set (`CAP_X`, `X`, `ALL`).
    pub cap_add: Vec<String>,
    /// Capabilities dropped from it.
    pub cap_drop: Vec<String>,
    /// Namespaced sysctls (`net.*`, `kernel.shm*`, ...).
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// rlimits (`nofile` replaces the default one).
    pub ulimits: Vec<Ulimit>,
    /// The signal that asks it to stop (`SIGTERM` if unset).
    pub stop_signal: Option<String>,
    /// How long a stop waits before SIGKILL (the caller's default if unset).
    pub stop_grace: Option<std::time::Duration>,
    /// An existing network namespace to join; when unset the runtime
    /// creates `shoal-<id>` (`ip netns add`) and deletes it with the
    /// container.
    pub netns: Option<PathBuf>,
}

/// cgroup limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Relative CPU weight (cgroup v1 `cpu.shares`).
    pub cpu_shares: Option<u64>,
    /// CPU time allowed per period, in microseconds.
    pub cpu_quota_us: Option<i64>,
    /// The CPU period, in microseconds (100000 when a quota is set).
    pub cpu_period_us: Option<u64>,
    /// Memory limit in bytes.
    pub memory_limit_bytes: Option<i64>,
    /// Most processes (cgroup `pids.max`); unset: no limit.
    pub pids_limit: Option<i64>,
}

/// A host directory or file mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// Host path.
    pub source: PathBuf,
    /// Absolute path in the container.
    pub target: String,
    /// Mount read-only.
    pub read_only: bool,
}

/// One rlimit (`--ulimit nofile=1024:2048`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    /// Docker's name (`nofile`, `nproc`, ...).
    pub name: String,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

/// A named volume mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// The volume's name.
    pub name: String,
    /// Absolute path in the container.
    pub target: String,
    /// Mount read-only.
    pub read_only: bool,
    /// Leave a new volume empty instead of copying the image's files at
    /// the target into it (`volume-nocopy`).
    pub no_copy: bool,
}

/// A tmpfs mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    /// Absolute path in the container.
    pub target: String,
    /// Size limit in bytes (the kernel's default, half the RAM, if unset).
    pub size_bytes: Option<u64>,
    /// Permission bits of its root (1777 if unset).
    pub mode: Option<u32>,
    /// Mount read-only.
    pub read_only: bool,
}

/// A file the runtime writes and mounts read-only into the container
/// (the `/etc` files shoal writes, and configs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFile {
    /// Absolute path in the container.
    pub target: String,
    /// Contents.
    pub contents: Vec<u8>,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits (at most 0777).
    pub mode: u32,
}

impl ContainerFile {
    /// A file root owns, readable by all (0644).
    pub fn new(target: &str, contents: Vec<u8>) -> ContainerFile {
        ContainerFile {
            target: target.to_owned(),
            contents,
            uid: 0,
            gid: 0,
            mode: 0o644,
        }
    }
}

/// One file of `/run/secrets`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretFile {
    /// Relative path under `/run/secrets`.
    pub name: String,
    /// Contents.
    pub data: Vec<u8>,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits (at most 0777; 0444 is usual).
    pub mode: u32,
}

impl std::fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secret contents.
        f.debug_struct("SecretFile")
            .field("name", &self.name)
            .field("len", &self.data.len())
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("mode", &format_args!("{:o}", self.mode))
            .finish()
    }
}

/// A created container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Its id.
    pub id: String,
    /// Host pid of its init process.
    pub pid: u32,
    /// Its network namespace (to attach interfaces to before `start`).
    pub netns: PathBuf,
    /// The netns name under `/run/netns` when the runtime created it.
    pub netns_name: Option<String>,
    /// Its OCI bundle directory.
    pub bundle: PathBuf,
}

/// Lifecycle state, as runc reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, the process waits for `start`.
    Created,
    /// Running.
    Running,
    /// Frozen.
    Paused,
    /// Exited (or never started and gone).
    Stopped,
}

/// How a container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// Exit code; 128 + signal when killed by a signal (as Docker shows it).
    pub code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

/// A container's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// Its id.
    pub id: String,
    /// The image reference it was created from.
    pub image: String,
    /// Lifecycle state.
    pub status: Status,
    /// Host pid of its init while it lives.
    pub pid: Option<u32>,
    /// How it ended, once stopped (unknown if it ended while no process of
    /// this runtime was watching).
    pub exit: Option<ExitStatus>,
    /// Whether the kernel's OOM killer killed one of its processes (known
    /// once stopped; `false` while it runs).
    pub oom_killed: bool,
    /// Its network namespace.
    pub netns: PathBuf,
}

impl ContainerSpec {
    /// Checks the id, env, secrets and mount targets.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        let bad_id = |reason| RuntimeError::InvalidId {
            id: self.id.clone(),
            reason,
        };
        let mut bytes = self.id.bytes();
        match bytes.next() {
            None => return Err(bad_id("empty")),
            Some(b) if !b.is_ascii_alphanumeric() => {
                return Err(bad_id("must start with [A-Za-z0-9]"));
            }
            Some(_) => {}
        }
        if self.id.len() > MAX_ID_LEN {
            return Err(bad_id("longer than 64 characters"));
        }
        if !bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
            return Err(bad_id("only [A-Za-z0-9_.-] allowed"));
        }
        let invalid = |field, value: &str, reason| RuntimeError::InvalidSpec {
            field,
            value: value.to_owned(),
            reason,
        };
        if let Some(e) = self
            .env
            .iter()
            .find(|e| !e.contains('=') || e.starts_with('='))
        {
            return Err(invalid("env", e, "expected KEY=value"));
        }
        for secret in &self.secrets {
            if !relative_clean(&secret.name) {
                return Err(invalid(
                    "secret",
                    &secret.name,
                    "must be a relative path without ..",
                ));
            }
            if secret.mode > 0o777 {
                return Err(invalid("secret", &secret.name, "mode above 0777"));
            }
        }
        if let Some(file) = self.files.iter().find(|f| f.mode > 0o777) {
            return Err(invalid("file", &file.target, "mode above 0777"));
        }
        let targets = self
            .mounts
            .iter()
            .map(|m| m.target.as_str())
            .chain(self.volumes.iter().map(|v| v.target.as_str()))
            .chain(self.tmpfs.iter().map(|t| t.target.as_str()));
        for target in targets.chain(self.files.iter().map(|f| f.target.as_str())) {
            if !target.starts_with('/') || !relative_clean(&target[1..]) {
                return Err(invalid(
                    "mount target",
                    target,
                    "must be absolute, without ..",
                ));
            }
        }
        for volume in &self.volumes {
            super::volumes::check_name(&volume.name)?;
        }
        self.validate_process()?;
        if let Some(t) = self
            .tmpfs
            .iter()
            .find(|t| t.mode.is_some_and(|m| m > 0o7777))
        {
            return Err(invalid("tmpfs mode", &t.target, "above 07777"));
        }
        Ok(())
    }
}

impl ContainerSpec {
    /// Checks the process options: capabilities, rlimits, sysctls, signal.
    fn validate_process(&self) -> Result<(), RuntimeError> {
        for cap in self.cap_add.iter().chain(&self.cap_drop) {
            super::process::capability(cap)?;
        }
        for limit in &self.ulimits {
            super::process::rlimit(&limit.name)?;
            if limit.soft > limit.hard {
                return Err(RuntimeError::InvalidSpec {
                    field: "ulimit",
                    value: limit.name.clone(),
                    reason: "soft limit above the hard one",
                });
            }
        }
        for key in self.sysctls.keys() {
            super::process::check_sysctl(key)?;
        }
        if let Some(signal) = &self.stop_signal {
            super::process::signal(signal)?;
        }
        Ok(())
    }
}

/// A non-empty relative path of plain components.
pub(crate) fn relative_clean(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}
