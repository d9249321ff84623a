//! Thin wrappers over the few Linux calls the runtime needs that `std`
//! lacks: mounts, whiteout device nodes, overlay xattrs, the child
//! subreaper flag and waiting for one pid.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Creates an overlayfs whiteout (a 0/0 character device) at `path`.
pub(crate) fn mknod_whiteout(path: &Path) -> io::Result<()> {
    let c = cstring(path)?;
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    check(unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, libc::makedev(0, 0)) })
}

/// Marks a directory opaque for overlayfs (`trusted.overlay.opaque=y`).
pub(crate) fn set_opaque(dir: &Path) -> io::Result<()> {
    let c = cstring(dir)?;
    let name = c"trusted.overlay.opaque";
    let value = b"y";
    // SAFETY: path and name are NUL-terminated; value points to 1 valid byte.
    check(unsafe {
        libc::setxattr(
            c.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// Mounts a filesystem (`mount(2)` with string data).
pub(crate) fn mount(
    fstype: &str,
    target: &Path,
    flags: libc::c_ulong,
    data: &str,
) -> io::Result<()> {
    let source = CString::new(fstype)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad fs type"))?;
    let target = cstring(target)?;
    let data = CString::new(data)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mount data contains NUL"))?;
    // SAFETY: all pointers are NUL-terminated strings alive for the call.
    check(unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            source.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    })
}

/// Unmounts `target`; `EINVAL` (not a mount point) and `ENOENT` count as done.
pub(crate) fn umount(target: &Path) -> io::Result<()> {
    let c = cstring(target)?;
    // SAFETY: `c` is a valid NUL-terminated path.
    match check(unsafe { libc::umount2(c.as_ptr(), 0) }) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            // Busy (a process still holds it): detach so the bundle can go.
            // SAFETY: as above.
            check(unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) })
        }
        other => other,
    }
}

/// Whether `path` is a mount point (its device differs from its parent's).
pub(crate) fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(me), Some(parent)) = (std::fs::symlink_metadata(path), path.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != me.dev() || p.ino() == me.ino())
}

/// Makes this process the reaper of its orphaned descendants, so a
/// container's init (whose parent `runc create` exits) can be waited for.
pub(crate) fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
}

/// How a waited-for process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitOutcome {
    /// Exited with a code.
    Exited(i32),
    /// Killed by a signal.
    Signaled(i32),
}

/// Waits for the child `pid` (blocking), retrying on `EINTR`.
pub(crate) fn wait_pid(pid: i32) -> io::Result<WaitOutcome> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid out pointer for the call.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            if libc::WIFEXITED(status) {
                return Ok(WaitOutcome::Exited(libc::WEXITSTATUS(status)));
            }
            if libc::WIFSIGNALED(status) {
                return Ok(WaitOutcome::Signaled(libc::WTERMSIG(status)));
            }
            continue;
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

/// Whether a process with this pid exists (signal 0).
pub(crate) fn pid_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// This process's hard limit for `resource` (`None` if unreadable).
pub(crate) fn hard_rlimit(resource: libc::__rlimit_resource_t) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit to the valid pointer given.
    let rc = unsafe { libc::getrlimit(resource, &mut limit) };
    (rc == 0).then_some(limit.rlim_max)
}
