//! The container runtime of a node: an image store and containers run by
//! runc, each in its own network namespace.
//!
//! A container's root filesystem is an overlayfs the runtime mounts before
//! `runc create`: the image's layers (unpacked once per node, shared,
//! read-only) below a per-container upper directory. Secrets are files on a
//! tmpfs bind-mounted read-only at `/run/secrets`, each with its own
//! owner and mode. Every container gets Docker's default seccomp profile
//! (unless the spec opts out) and Docker's default capabilities. The network namespace is
//! `ip netns add shoal-<id>` (or one the caller names), joined by path, so
//! the data plane can attach the task's interface between
//! [`Runtime::create`] and [`Runtime::start`]. The container's stdout and
//! stderr go to a log file; its exit status is collected by this process
//! (a child subreaper). Named volumes (`volumes`) live under the state dir
//! and outlive the containers that mount them.
//!
//! It owns the node's containers and images and depends on no other
//! shoal crate.

mod cmd;
mod config;
mod containers;
mod error;
pub mod image;
pub mod log_line;
pub mod log_reader;
pub mod log_shim;
pub mod logs;
mod netns;
mod oci;
mod oom;
mod process;
mod reaper;
mod rootfs;
mod runc;
mod seccomp;
mod spec;
mod sys;
pub mod volumes;

pub use config::{INIT_TARGET, SECRETS_TARGET};
pub use containers::{Runtime, RuntimeConfig};
pub use error::RuntimeError;
pub use netns::{NETNS_DIR, netns_name, netns_path};
pub use spec::{
    BindMount, Container, ContainerFile, ContainerSpec, ContainerState, ExitStatus, MAX_ID_LEN,
    Resources, SecretFile, Status, TmpfsMount, Ulimit, VolumeMount,
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_mounts;
#[cfg(test)]
mod tests_process;
#[cfg(test)]
mod tests_security;
