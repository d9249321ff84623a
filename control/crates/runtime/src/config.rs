//! Turning a [`ContainerSpec`] and its image into an OCI runtime config:
//! the command and environment merged Docker's way, the standard mounts,
//! namespaces (the network one joined by path), cgroup limits, Docker's
//! default capabilities, its default seccomp profile, an explicit
//! `RLIMIT_NOFILE` and `no_new_privileges`.

use std::path::Path;

use super::RuntimeError;
use super::image::Image;
use super::oci::{self, Mount, Namespace, Spec};
use super::process;
use super::spec::{ContainerSpec, Resources};
use super::{seccomp, sys};

/// Docker's default capability set.
const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];
/// Paths hidden from the container (as runc's default spec).
const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];
/// Paths mounted read-only (as runc's default spec).
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];
/// PATH when the image sets none.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Open files per process (soft and hard), containerd's default: the
/// host's inherited limit is not the task's business. Capped at this
/// process's own hard limit, which only `CAP_SYS_RESOURCE` may raise.
const NOFILE_LIMIT: u64 = 1_048_576;
/// CPU period used when only a quota is given.
const DEFAULT_CPU_PERIOD_US: u64 = 100_000;
/// Where `--init`'s init is mounted in a container (Docker's path).
pub const INIT_TARGET: &str = "/sbin/docker-init";

/// Where secrets appear in the container.
pub const SECRETS_TARGET: &str = "/run/secrets";

/// Where the pieces of one container live on the host.
pub(crate) struct HostPaths<'a> {
    /// The secrets tmpfs, if the container has secrets.
    pub secrets: Option<&'a Path>,
    /// Host copies of [`ContainerSpec::files`], in the same order.
    pub files: &'a [std::path::PathBuf],
    /// Data directories of [`ContainerSpec::volumes`], in the same order.
    pub volumes: &'a [std::path::PathBuf],
    /// Its network namespace.
    pub netns: &'a Path,
    /// Its cgroup path (relative to each controller's root).
    pub cgroup: String,
    /// Its root filesystem, mounted (the image's user names are read
    /// from it).
    pub rootfs: &'a Path,
}

/// The OCI config for `spec` on `image`.
pub(crate) fn build(
    spec: &ContainerSpec,
    image: &Image,
    host: &HostPaths<'_>,
) -> Result<Spec, RuntimeError> {
    let exec = &image.config.config;
    let user = spec.user.as_deref().or(exec.user.as_deref()).unwrap_or("");
    let (uid, gid) = process::user(user, host.rootfs)?;
    let caps = process::capabilities(DEFAULT_CAPS, &spec.cap_add, &spec.cap_drop)?;
    let process = oci::Process {
        terminal: false,
        user: oci::User { uid, gid },
        args: command(spec, image)?,
        env: environment(exec.env.as_deref().unwrap_or_default(), &spec.env),
        cwd: spec
            .workdir
            .clone()
            .or_else(|| exec.working_dir.clone().filter(|w| !w.is_empty()))
            .unwrap_or_else(|| "/".to_owned()),
        capabilities: oci::Capabilities {
            bounding: caps.clone(),
            effective: caps.clone(),
            permitted: caps,
        },
        rlimits: rlimits(spec)?,
        no_new_privileges: true,
    };
    Ok(Spec {
        oci_version: oci::OCI_VERSION,
        process,
        root: oci::Root {
            path: "rootfs".to_owned(),
            readonly: spec.read_only_rootfs,
        },
        hostname: spec.hostname.clone().unwrap_or_else(|| spec.id.clone()),
        mounts: mounts(spec, host),
        linux: oci::Linux {
            namespaces: namespaces(host.netns),
            resources: resources(&spec.resources),
            cgroups_path: host.cgroup.clone(),
            masked_paths: MASKED_PATHS.iter().map(|p| (*p).to_owned()).collect(),
            readonly_paths: READONLY_PATHS.iter().map(|p| (*p).to_owned()).collect(),
            seccomp: (!spec.seccomp_unconfined).then(seccomp::default_profile),
            sysctl: spec.sysctls.clone(),
        },
    })
}

/// Entrypoint + cmd, Docker's way: an entrypoint override drops the
/// image's cmd.
fn command(spec: &ContainerSpec, image: &Image) -> Result<Vec<String>, RuntimeError> {
    let exec = &image.config.config;
    let (entrypoint, cmd) = match &spec.entrypoint {
        Some(entrypoint) => (entrypoint.clone(), spec.args.clone().unwrap_or_default()),
        None => (
            exec.entrypoint.clone().unwrap_or_default(),
            spec.args
                .clone()
                .or_else(|| exec.cmd.clone())
                .unwrap_or_default(),
        ),
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(RuntimeError::NoCommand {
            image: spec.image.clone(),
        });
    }
    Ok(match spec.init {
        Some(_) => [INIT_TARGET.to_owned(), "--".to_owned()]
            .into_iter()
            .chain(args)
            .collect(),
        None => args,
    })
}

/// The image's environment overridden key by key by the spec's; PATH
/// always set.
fn environment(image: &[String], overrides: &[String]) -> Vec<String> {
    let key = |e: &str| e.split('=').next().unwrap_or_default().to_owned();
    let mut env: Vec<String> = Vec::new();
    for entry in image.iter().chain(overrides) {
        let k = key(entry);
        env.retain(|e| key(e) != k);
        env.push(entry.clone());
    }
    if !env.iter().any(|e| key(e) == "PATH") {
        env.insert(0, DEFAULT_PATH.to_owned());
    }
    env
}

/// [`NOFILE_LIMIT`], or this process's hard limit when lower.
pub(crate) fn nofile_limit() -> u64 {
    sys::hard_rlimit(libc::RLIMIT_NOFILE).map_or(NOFILE_LIMIT, |hard| hard.min(NOFILE_LIMIT))
}

/// NOFILE at [`nofile_limit`] unless the spec says otherwise, and the
/// spec's other `--ulimit`s; the rest (NPROC among them: the pids cgroup
/// bounds processes) are inherited from this process.
fn rlimits(spec: &ContainerSpec) -> Result<Vec<oci::Rlimit>, RuntimeError> {
    let mut limits = Vec::with_capacity(spec.ulimits.len() + 1);
    if !spec.ulimits.iter().any(|u| u.name == "nofile") {
        limits.push(oci::Rlimit {
            kind: "RLIMIT_NOFILE",
            hard: nofile_limit(),
            soft: nofile_limit(),
        });
    }
    for limit in &spec.ulimits {
        limits.push(oci::Rlimit {
            kind: process::rlimit(&limit.name)?,
            hard: limit.hard,
            soft: limit.soft,
        });
    }
    Ok(limits)
}

fn mount(destination: &str, kind: &str, source: &str, options: &[&str]) -> Mount {
    Mount {
        destination: destination.to_owned(),
        kind: kind.to_owned(),
        source: source.to_owned(),
        options: options.iter().map(|o| (*o).to_owned()).collect(),
    }
}

fn mounts(spec: &ContainerSpec, host: &HostPaths<'_>) -> Vec<Mount> {
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &[]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        ),
    ];
    if let Some(init) = &spec.init {
        let source = init.to_string_lossy();
        // Not noexec: it is the container's first process.
        let options = ["rbind", "ro", "nosuid", "nodev"];
        mounts.push(mount(INIT_TARGET, "bind", &source, &options));
    }
    if let Some(secrets) = host.secrets {
        let source = secrets.to_string_lossy();
        let options = ["rbind", "ro", "nosuid", "nodev", "noexec"];
        mounts.push(mount(SECRETS_TARGET, "bind", &source, &options));
    }
    for bind in &spec.mounts {
        let source = bind.source.to_string_lossy();
        let mode = if bind.read_only { "ro" } else { "rw" };
        mounts.push(mount(&bind.target, "bind", &source, &["rbind", mode]));
    }
    for (volume, source) in spec.volumes.iter().zip(host.volumes) {
        let source = source.to_string_lossy();
        let mode = if volume.read_only { "ro" } else { "rw" };
        mounts.push(mount(&volume.target, "bind", &source, &["rbind", mode]));
    }
    for tmpfs in &spec.tmpfs {
        let mode = format!("mode={:o}", tmpfs.mode.unwrap_or(0o1777));
        let size = tmpfs.size_bytes.map(|b| format!("size={b}"));
        let mut options = vec!["nosuid", "nodev", mode.as_str()];
        options.extend(size.as_deref());
        if tmpfs.read_only {
            options.push("ro");
        }
        mounts.push(mount(&tmpfs.target, "tmpfs", "tmpfs", &options));
    }
    for (file, source) in spec.files.iter().zip(host.files) {
        let source = source.to_string_lossy();
        let options = ["rbind", "ro", "nosuid", "nodev", "noexec"];
        mounts.push(mount(&file.target, "bind", &source, &options));
    }
    mounts
}

fn namespaces(netns: &Path) -> Vec<Namespace> {
    let mut namespaces: Vec<Namespace> = ["pid", "ipc", "uts", "mount"]
        .into_iter()
        .map(|kind| Namespace { kind, path: None })
        .collect();
    namespaces.push(Namespace {
        kind: "network",
        path: Some(netns.to_string_lossy().into_owned()),
    });
    namespaces
}

fn resources(limits: &Resources) -> oci::Resources {
    let cpu_set = limits.cpu_shares.is_some() || limits.cpu_quota_us.is_some();
    let period = limits
        .cpu_period_us
        .or(limits.cpu_quota_us.map(|_| DEFAULT_CPU_PERIOD_US));
    oci::Resources {
        devices: vec![oci::DeviceRule {
            allow: false,
            access: "rwm",
        }],
        memory: limits.memory_limit_bytes.map(|limit| oci::Memory { limit }),
        cpu: cpu_set.then_some(oci::Cpu {
            shares: limits.cpu_shares,
            quota: limits.cpu_quota_us,
            period,
        }),
        pids: limits.pids_limit.map(|limit| oci::Pids { limit }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_by_key_and_keeps_path() {
        let env = environment(&["A=1".into(), "B=2".into()], &["B=3".into(), "C=4".into()]);
        assert_eq!(env, [DEFAULT_PATH, "A=1", "B=3", "C=4"]);
        let env = environment(&["PATH=/bin".into()], &[]);
        assert_eq!(env, ["PATH=/bin"]);
    }
}
