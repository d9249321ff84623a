//! The OCI runtime spec (`config.json`) subset shoal writes for runc.

use serde::Serialize;

/// Version of the runtime spec written.
pub(crate) const OCI_VERSION: &str = "1.0.2";

/// `config.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Spec {
    pub oci_version: &'static str,
    pub process: Process,
    pub root: Root,
    pub hostname: String,
    pub mounts: Vec<Mount>,
    pub linux: Linux,
}

/// The container's process.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Process {
    pub terminal: bool,
    pub user: User,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub capabilities: Capabilities,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
}

/// Numeric user.
#[derive(Debug, Serialize)]
pub(crate) struct User {
    pub uid: u32,
    pub gid: u32,
}

/// Capability sets.
#[derive(Debug, Serialize)]
pub(crate) struct Capabilities {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
}

/// One rlimit.
#[derive(Debug, Serialize)]
pub(crate) struct Rlimit {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub hard: u64,
    pub soft: u64,
}

/// The root filesystem (relative to the bundle).
#[derive(Debug, Serialize)]
pub(crate) struct Root {
    pub path: String,
    pub readonly: bool,
}

/// One mount.
#[derive(Debug, Serialize)]
pub(crate) struct Mount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

/// Linux-specific settings.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Linux {
    pub namespaces: Vec<Namespace>,
    pub resources: Resources,
    pub cgroups_path: String,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<Seccomp>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sysctl: std::collections::BTreeMap<String, String>,
}

/// A seccomp filter: what a syscall no rule names gets, the architectures
/// it applies to and the rules.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Seccomp {
    pub default_action: &'static str,
    pub default_errno_ret: u32,
    pub architectures: Vec<&'static str>,
    pub syscalls: Vec<SeccompRule>,
}

/// One seccomp rule: `action` for the named syscalls when every arg
/// condition holds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeccompRule {
    pub names: Vec<&'static str>,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<SeccompArg>,
}

/// A condition on one syscall argument (`MASKED_EQ`: `arg & value ==
/// value_two`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeccompArg {
    pub index: u32,
    pub value: u64,
    pub value_two: u64,
    pub op: &'static str,
}

/// A namespace to create, or join when `path` is set.
#[derive(Debug, Serialize)]
pub(crate) struct Namespace {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// cgroup resources.
#[derive(Debug, Serialize)]
pub(crate) struct Resources {
    pub devices: Vec<DeviceRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<Pids>,
}

/// A device cgroup rule.
#[derive(Debug, Serialize)]
pub(crate) struct DeviceRule {
    pub allow: bool,
    pub access: &'static str,
}

/// Memory limits.
#[derive(Debug, Serialize)]
pub(crate) struct Memory {
    pub limit: i64,
}

/// CPU limits.
#[derive(Debug, Serialize)]
pub(crate) struct Cpu {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shares: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
}

/// Process count limit.
#[derive(Debug, Serialize)]
pub(crate) struct Pids {
    pub limit: i64,
}
