//! The default seccomp profile of every container, as Rust data.
//!
//! It follows moby's `profiles/seccomp/default.json` (Docker's default
//! profile) for the capabilities shoal grants ([`super::config`]'s
//! `DEFAULT_CAPS`, Docker's defaults): what no rule names fails with
//! EPERM; the unconditional allow-list below; `socket` except `AF_VSOCK`;
//! `personality` for the five personas Docker allows; `chroot` (the task
//! holds `CAP_SYS_CHROOT`); `arch_prctl` and `modify_ldt` on x86; `clone`
//! only without namespace flags; `clone3` fails with ENOSYS so that glibc
//! falls back to `clone`, whose flags the filter can see.
//!
//! Left out of Docker's profile: every rule for a capability shoal never
//! grants (`CAP_SYS_ADMIN`: `mount`, `umount2`, `unshare`, `setns`,
//! `bpf`, `perf_event_open`, `fanotify_init`, the new mount API, ...;
//! `CAP_SYS_MODULE`, `CAP_SYS_BOOT`, `CAP_SYS_TIME`, `CAP_SYS_NICE`,
//! `CAP_SYSLOG`, `CAP_SYS_RAWIO`, `CAP_SYS_PTRACE`, ...), the rules of
//! other architectures, and — stricter than Docker, which allows them on
//! kernels ≥ 4.8 — `ptrace`, `process_vm_readv` and `process_vm_writev`.
//! `keyctl`, `add_key`, `request_key`, `kexec_load` and `init_module` are
//! in no allow rule of Docker's either.

use super::oci::{Seccomp, SeccompArg, SeccompRule};

/// Syscalls allowed whatever their arguments (Docker's first rule).
const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
    // Docker allows it with CAP_SYS_CHROOT, a default capability.
    "chroot",
];

/// `personality(2)` values Docker allows: PER_LINUX, PER_LINUX32,
/// UNAME26, UNAME26|PER_LINUX32 and the query 0xffffffff.
const PERSONAS: [u64; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];
/// The `clone` flags that make namespaces (CLONE_NEWNS, NEWCGROUP,
/// NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET): a `clone` with any of them
/// set is refused, as Docker's `SCMP_CMP_MASKED_EQ` rule does.
pub(crate) const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;
/// `AF_VSOCK`, the one socket family Docker refuses.
const AF_VSOCK: u64 = 40;
/// What a syscall no rule allows returns.
const EPERM: u32 = 1;
/// What `clone3` returns, so that glibc falls back to `clone`.
const ENOSYS: u32 = 38;

/// The architectures a filter covers: the native one and those its
/// binaries may also use (Docker's `archMap`).
#[cfg(target_arch = "x86_64")]
const ARCHES: &[&str] = &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
#[cfg(target_arch = "aarch64")]
const ARCHES: &[&str] = &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const ARCHES: &[&str] = &[];

/// Syscalls Docker allows on this architecture only.
#[cfg(target_arch = "x86_64")]
const ARCH_ALLOWED: &[&str] = &["arch_prctl", "modify_ldt"];
#[cfg(not(target_arch = "x86_64"))]
const ARCH_ALLOWED: &[&str] = &[];

/// The default profile (see the module doc).
pub(crate) fn default_profile() -> Seccomp {
    let allow = |names: Vec<&'static str>, args: Vec<SeccompArg>| SeccompRule {
        names,
        action: "SCMP_ACT_ALLOW",
        errno_ret: None,
        args,
    };
    let arg0 = |op, value, value_two| SeccompArg {
        index: 0,
        value,
        value_two,
        op,
    };
    let mut syscalls = vec![allow(
        ALLOWED.iter().chain(ARCH_ALLOWED).copied().collect(),
        Vec::new(),
    )];
    syscalls.push(allow(
        vec!["socket"],
        vec![arg0("SCMP_CMP_NE", AF_VSOCK, 0)],
    ));
    for persona in PERSONAS {
        syscalls.push(allow(
            vec!["personality"],
            vec![arg0("SCMP_CMP_EQ", persona, 0)],
        ));
    }
    syscalls.push(allow(
        vec!["clone"],
        vec![arg0("SCMP_CMP_MASKED_EQ", CLONE_NAMESPACE_FLAGS, 0)],
    ));
    syscalls.push(SeccompRule {
        names: vec!["clone3"],
        action: "SCMP_ACT_ERRNO",
        errno_ret: Some(ENOSYS),
        args: Vec::new(),
    });
    Seccomp {
        default_action: "SCMP_ACT_ERRNO",
        default_errno_ret: EPERM,
        architectures: ARCHES.to_vec(),
        syscalls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(profile: &Seccomp, name: &str) -> bool {
        profile
            .syscalls
            .iter()
            .any(|r| r.action == "SCMP_ACT_ALLOW" && r.args.is_empty() && r.names.contains(&name))
    }

    #[test]
    fn namespace_and_admin_syscalls_are_not_allowed() {
        let profile = default_profile();
        for name in [
            "unshare",
            "setns",
            "mount",
            "umount2",
            "keyctl",
            "add_key",
            "request_key",
            "bpf",
            "ptrace",
            "perf_event_open",
            "kexec_load",
            "init_module",
            "clone",
            "clone3",
        ] {
            assert!(!allowed(&profile, name), "{name} allowed unconditionally");
        }
        for name in ["read", "execve", "fork", "chroot", "arch_prctl"] {
            assert!(allowed(&profile, name), "{name} not allowed");
        }
    }

    #[test]
    fn clone_is_allowed_only_without_namespace_flags() {
        let json = serde_json::to_value(default_profile()).unwrap();
        let rules = json["syscalls"].as_array().unwrap();
        let clone = rules
            .iter()
            .find(|r| r["names"] == serde_json::json!(["clone"]))
            .unwrap();
        assert_eq!(
            clone["args"],
            serde_json::json!([{"index": 0, "value": 0x7E02_0000u64, "valueTwo": 0,
                "op": "SCMP_CMP_MASKED_EQ"}])
        );
        let clone3 = rules
            .iter()
            .find(|r| r["names"] == serde_json::json!(["clone3"]))
            .unwrap();
        assert_eq!(
            (&clone3["action"], &clone3["errnoRet"]),
            (&"SCMP_ACT_ERRNO".into(), &38.into())
        );
        assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(json["defaultErrnoRet"], 1);
    }
}
