//! The container process's identity and limits beyond the defaults: its
//! user (numeric, or a name from the image's `/etc/passwd` and
//! `/etc/group`, as Docker resolves it), capabilities added to and dropped
//! from Docker's default set, rlimits (`--ulimit`), namespaced sysctls,
//! and the signal that stops it. Names are checked when the spec is
//! validated, so a bad one refuses the container before anything exists.

use std::fs;
use std::path::Path;

use super::RuntimeError;
use super::image::ImageError;

/// rlimit names as Docker's `--ulimit` spells them, and the kernel's.
const RLIMITS: &[(&str, &str)] = &[
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
];

/// Signals a container may be stopped with.
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("TERM", libc::SIGTERM),
    ("WINCH", libc::SIGWINCH),
];

/// sysctl prefixes that are per network/IPC namespace (Docker's rule):
/// anything else would change the node.
const NAMESPACED_SYSCTLS: &[&str] = &["net.", "kernel.shm", "kernel.msg", "fs.mqueue."];

/// Every capability the kernel knows (for `ALL` and for checking names).
const ALL_CAPS: &[&str] = &[
    "CAP_AUDIT_CONTROL",
    "CAP_AUDIT_READ",
    "CAP_AUDIT_WRITE",
    "CAP_BLOCK_SUSPEND",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_KILL",
    "CAP_LEASE",
    "CAP_LINUX_IMMUTABLE",
    "CAP_MAC_ADMIN",
    "CAP_MAC_OVERRIDE",
    "CAP_MKNOD",
    "CAP_NET_ADMIN",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_RAW",
    "CAP_PERFMON",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYSLOG",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_CHROOT",
    "CAP_SYS_MODULE",
    "CAP_SYS_NICE",
    "CAP_SYS_PACCT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_WAKE_ALARM",
];

fn invalid(field: &'static str, value: &str, reason: &'static str) -> RuntimeError {
    RuntimeError::InvalidSpec {
        field,
        value: value.to_owned(),
        reason,
    }
}

/// `net_admin`, `NET_ADMIN` or `CAP_NET_ADMIN` as `CAP_NET_ADMIN`; `ALL`.
pub(crate) fn capability(name: &str) -> Result<String, RuntimeError> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if ALL_CAPS.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(invalid("capability", name, "not a Linux capability"))
    }
}

/// Docker's default set with `add` added and `drop` dropped (`ALL` in
/// either means every capability).
pub(crate) fn capabilities(
    defaults: &[&str],
    add: &[String],
    drop: &[String],
) -> Result<Vec<String>, RuntimeError> {
    let add: Vec<String> = add
        .iter()
        .map(|c| capability(c))
        .collect::<Result<_, _>>()?;
    let drop: Vec<String> = drop
        .iter()
        .map(|c| capability(c))
        .collect::<Result<_, _>>()?;
    let mut caps: Vec<String> = if add.iter().any(|c| c == "ALL") {
        ALL_CAPS.iter().map(|c| (*c).to_owned()).collect()
    } else {
        defaults
            .iter()
            .map(|c| (*c).to_owned())
            .chain(add)
            .collect()
    };
    if drop.iter().any(|c| c == "ALL") {
        caps.clear();
    }
    caps.retain(|c| !drop.contains(c));
    caps.sort();
    caps.dedup();
    Ok(caps)
}

/// The kernel's name of rlimit `name` (`nofile` → `RLIMIT_NOFILE`).
pub(crate) fn rlimit(name: &str) -> Result<&'static str, RuntimeError> {
    RLIMITS
        .iter()
        .find(|(short, _)| *short == name)
        .map(|(_, kernel)| *kernel)
        .ok_or_else(|| {
            invalid(
                "ulimit",
                name,
                "not an rlimit (nofile, nproc, core, memlock, stack, ...)",
            )
        })
}

/// The number of a stop signal (`SIGTERM`, `TERM` or `15`).
pub(crate) fn signal(text: &str) -> Result<i32, RuntimeError> {
    if let Ok(n) = text.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(invalid("stop signal", text, "not a signal number"))
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, number)| *number)
        .ok_or_else(|| {
            invalid(
                "stop signal",
                text,
                "not a signal shoal stops containers with",
            )
        })
}

/// Checks that `key` is a sysctl of the container's own namespaces.
pub(crate) fn check_sysctl(key: &str) -> Result<(), RuntimeError> {
    if NAMESPACED_SYSCTLS.iter().any(|p| key.starts_with(p)) || key == "kernel.sem" {
        Ok(())
    } else {
        Err(invalid(
            "sysctl",
            key,
            "not namespaced: it would change the node",
        ))
    }
}

/// `uid[:gid]`, or names looked up in the image's `/etc/passwd` and
/// `/etc/group` under `rootfs` (a user's own group when no group is given).
pub(crate) fn user(text: &str, rootfs: &Path) -> Result<(u32, u32), RuntimeError> {
    if text.is_empty() {
        return Ok((0, 0));
    }
    let unknown = || {
        RuntimeError::Image(ImageError::UnsupportedUser {
            user: text.to_owned(),
        })
    };
    let (user, group) = match text.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (text, None),
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => (
            uid,
            lookup(rootfs, "etc/passwd", 2, |f| f[2] == user).and_then(|f| f[3].parse().ok()),
        ),
        Err(_) => {
            let fields = lookup(rootfs, "etc/passwd", 3, |f| f[0] == user).ok_or_else(unknown)?;
            (
                fields[2].parse().map_err(|_| unknown())?,
                fields[3].parse().ok(),
            )
        }
    };
    let gid = match group {
        None => primary.unwrap_or(0),
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => lookup(rootfs, "etc/group", 2, |f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(unknown)?,
        },
    };
    Ok((uid, gid))
}

/// The fields of the first line of `rootfs/file` with more than `min`
/// `:`-separated fields that `matches`.
fn lookup(
    rootfs: &Path,
    file: &str,
    min: usize,
    matches: impl Fn(&[&str]) -> bool,
) -> Option<Vec<String>> {
    let text = fs::read_to_string(rootfs.join(file)).ok()?;
    text.lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() > min && matches(fields))
        .map(|fields| fields.into_iter().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_add_drop_and_all() {
        let defaults = ["CAP_CHOWN", "CAP_KILL"];
        let caps = capabilities(&defaults, &["net_admin".into()], &["KILL".into()]).unwrap();
        assert_eq!(caps, ["CAP_CHOWN", "CAP_NET_ADMIN"]);
        let none = capabilities(&defaults, &[], &["ALL".into()]).unwrap();
        assert!(none.is_empty());
        let all = capabilities(&defaults, &["ALL".into()], &["SYS_ADMIN".into()]).unwrap();
        assert_eq!(all.len(), ALL_CAPS.len() - 1);
        assert!(capabilities(&defaults, &["CAP_FLY".into()], &[]).is_err());
    }

    #[test]
    fn users_resolve_from_the_images_files() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("etc")).unwrap();
        fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nnode:x:1000:1001::/home/node:/bin/sh\n",
        )
        .unwrap();
        fs::write(root.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        assert_eq!(user("node", root.path()).unwrap(), (1000, 1001));
        assert_eq!(user("node:staff", root.path()).unwrap(), (1000, 50));
        assert_eq!(
            user("1000", root.path()).unwrap(),
            (1000, 1001),
            "a uid's own group"
        );
        assert_eq!(user("7:8", root.path()).unwrap(), (7, 8));
        assert!(user("nobody-here", root.path()).is_err());
    }

    #[test]
    fn signals_rlimits_and_sysctls_are_checked() {
        assert_eq!(signal("SIGQUIT").unwrap(), libc::SIGQUIT);
        assert_eq!(signal("usr1").unwrap(), libc::SIGUSR1);
        assert_eq!(signal("9").unwrap(), 9);
        assert!(signal("SIGFLY").is_err());
        assert_eq!(rlimit("nofile").unwrap(), "RLIMIT_NOFILE");
        assert!(rlimit("files").is_err());
        assert!(check_sysctl("net.core.somaxconn").is_ok());
        assert!(check_sysctl("kernel.pid_max").is_err());
    }
}
