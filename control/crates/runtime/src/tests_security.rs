//! Security defaults on real runc (as root, on the harness of
//! [`super::tests`]): the seccomp profile, the pids limit, the open-files
//! rlimit, secrets a non-root task user can read, and read-only files
//! over image paths (`/etc/resolv.conf` and friends).

use std::fs;
use std::time::Instant;

use super::tests::{Lab, TIMEOUT, cgroup_dir};
use super::*;

/// Waits until the logs of `id` contain `mark`; the logs.
fn logs_with(lab: &Lab, id: &str, mark: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let logs = lab.logs(id);
        if logs.contains(mark) {
            return logs;
        }
        assert!(Instant::now() < deadline, "no {mark:?} in logs: {logs}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn seccomp_refuses_user_namespaces_unless_unconfined() {
    let lab = Lab::new("seccomp");
    let script = "busybox unshare -U true 2>&1 && echo userns-made";
    let confined = lab.spec("confined", &["sh", "-c", script]);
    lab.runtime.run(&confined).unwrap();
    lab.wait_exit(&confined.id);
    let logs = lab.logs(&confined.id);
    assert!(
        logs.contains("Operation not permitted") && !logs.contains("userns-made"),
        "the default profile let unshare(CLONE_NEWUSER) through: {logs}"
    );
    let mut unconfined = lab.spec("unconfined", &["sh", "-c", script]);
    unconfined.seccomp_unconfined = true;
    lab.runtime.run(&unconfined).unwrap();
    assert_eq!(lab.wait_exit(&unconfined.id).code, 0);
    assert_eq!(lab.logs(&unconfined.id), "userns-made\n");
    lab.delete_and_check(&confined.id);
    lab.delete_and_check(&unconfined.id);
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit() {
    const LIMIT: i64 = 64;
    let lab = Lab::new("pids");
    // The bomb runs in a subshell (a failed fork ends it); PID 1 then
    // becomes a sleep without forking, so the bomb's children stay.
    let script = "(i=0; while [ $i -lt 1000 ]; do sleep 100 & i=$((i+1)); done; \
                  echo all-forked); echo bomb-ended; exec sleep 1000";
    let mut spec = lab.spec("bomb", &["sh", "-c", script]);
    spec.resources.pids_limit = Some(LIMIT);
    let container = lab.runtime.run(&spec).unwrap();
    let logs = logs_with(&lab, &spec.id, "bomb-ended");
    assert!(
        logs.contains("can't fork") && !logs.contains("all-forked"),
        "the bomb was not stopped: {logs}"
    );
    let current = fs::read_to_string(cgroup_dir(container.pid, "pids").join("pids.current"))
        .unwrap()
        .trim()
        .parse::<i64>()
        .unwrap();
    assert!(current <= LIMIT, "pids.current {current} above {LIMIT}");
    lab.delete_and_check(&spec.id);
}

#[test]
fn open_files_limit_is_set_explicitly() {
    let lab = Lab::new("nofile");
    let spec = lab.spec("n", &["sh", "-c", "ulimit -n; ulimit -Hn"]);
    let container = lab.runtime.run(&spec).unwrap();
    assert_eq!(lab.wait_exit(&spec.id).code, 0);
    // 1048576 unless this process may not go that high (no
    // CAP_SYS_RESOURCE in some CI sandboxes).
    let limit = config::nofile_limit();
    assert_eq!(lab.logs(&spec.id), format!("{limit}\n{limit}\n"));
    let config = fs::read_to_string(container.bundle.join("config.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(
        config["process"]["rlimits"],
        serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": limit, "soft": limit}])
    );
    lab.delete_and_check(&spec.id);
}

#[test]
fn a_non_root_task_user_reads_its_secrets_with_their_owner_and_mode() {
    let lab = Lab::new("secuser");
    let script = "id -u; cat /run/secrets/pw; echo; \
                  stat -c '%u %g %a' /run/secrets/app/key /run/secrets/pw; \
                  cat /run/secrets/app/key; echo";
    let mut spec = lab.spec("u", &["sh", "-c", script]);
    spec.user = Some("1000:1000".to_owned());
    spec.secrets = vec![
        SecretFile {
            name: "pw".into(),
            data: b"hunter2".to_vec(),
            uid: 0,
            gid: 0,
            mode: 0o444,
        },
        SecretFile {
            name: "app/key".into(),
            data: b"k".to_vec(),
            uid: 1000,
            gid: 1000,
            mode: 0o400,
        },
    ];
    lab.runtime.run(&spec).unwrap();
    assert_eq!(lab.wait_exit(&spec.id).code, 0, "{}", lab.logs(&spec.id));
    assert_eq!(
        lab.logs(&spec.id),
        "1000\nhunter2\n1000 1000 400\n0 0 444\nk\n"
    );
    lab.delete_and_check(&spec.id);
}

#[test]
fn files_cover_image_paths_read_only() {
    let lab = Lab::new("files");
    let script =
        "cat /etc/resolv.conf /etc/hostname; (echo x > /etc/hosts) 2>/dev/null || echo read-only";
    let mut spec = lab.spec("files", &["sh", "-c", script]);
    spec.files = vec![
        ContainerFile::new("/etc/resolv.conf", b"nameserver 127.0.0.11\n".to_vec()),
        ContainerFile::new("/etc/hostname", b"web-1\n".to_vec()),
        ContainerFile::new("/etc/hosts", b"127.0.0.1\tlocalhost\n".to_vec()),
    ];
    lab.runtime.run(&spec).unwrap();
    assert_eq!(lab.wait_exit(&spec.id).code, 0);
    assert_eq!(
        lab.logs(&spec.id),
        "nameserver 127.0.0.11\nweb-1\nread-only\n"
    );
}
