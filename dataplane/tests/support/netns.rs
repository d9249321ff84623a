//! A private network namespace for the calling test thread, with veth pairs
//! whose ifindexes TC fixtures can name as their ingress device.
//!
//! `BPF_PROG_TEST_RUN` resolves `__sk_buff.ifindex` in the caller's network
//! namespace, and a network namespace belongs to a thread, not a process:
//! `unshare(CLONE_NEWNET)` on the test's own thread leaves the host and the
//! other tests alone, and the namespace (with its devices) goes away when
//! the thread ends. Child processes started from the thread (`ip`) are born
//! in it.

use std::{ffi::CString, io, process::Command};

/// The calling thread's private network namespace.
pub struct PrivateNetns {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl PrivateNetns {
    /// Move the calling thread into a fresh network namespace. Needs root.
    pub fn enter() -> io::Result<Self> {
        // SAFETY: unshare has no memory-safety preconditions; CLONE_NEWNET
        // affects only the calling thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            _not_send: std::marker::PhantomData,
        })
    }

    /// Create a veth pair `name` / `name-peer`, as a task's host side and
    /// task side, and return the ifindex of `name`. (A veth, not a dummy:
    /// the kernels this runs on may lack the dummy module.)
    pub fn add_veth(&self, name: &str) -> io::Result<u32> {
        let peer = format!("{name}-peer");
        let args = [
            "link", "add", "name", name, "type", "veth", "peer", "name", &peer,
        ];
        let status = Command::new("ip").args(args).status()?;
        if !status.success() {
            return Err(io::Error::other(format!("ip {}: {status}", args.join(" "))));
        }
        ifindex(name)
    }

    /// The ifindex of device `name` in this namespace.
    pub fn ifindex(&self, name: &str) -> io::Result<u32> {
        ifindex(name)
    }
}

fn ifindex(name: &str) -> io::Result<u32> {
    let c_name = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: a valid NUL-terminated string; the lookup is per-thread netns.
    match unsafe { libc::if_nametoindex(c_name.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        index => Ok(index),
    }
}
