//! Process options on real runc (as root, on the harness of
//! [`super::tests`]): a read-only root, dropped capabilities, an rlimit
//! and a namespaced sysctl as the process sees them, and a stop signal of
//! the spec's own that the container handles.

use std::time::Duration;

use super::tests::Lab;
use super::*;

#[test]
fn read_only_root_capabilities_ulimits_and_sysctls_reach_the_process() {
    let lab = Lab::new("proc");
    let script = "(touch /x) 2>/dev/null || echo read-only; ulimit -n; \
                  cat /proc/sys/net/core/somaxconn; grep CapEff /proc/self/status";
    let mut spec = lab.spec("p", &["sh", "-c", script]);
    spec.read_only_rootfs = true;
    spec.cap_drop = vec!["ALL".into()];
    spec.ulimits = vec![Ulimit {
        name: "nofile".into(),
        soft: 321,
        hard: 654,
    }];
    spec.sysctls = [("net.core.somaxconn".to_owned(), "777".to_owned())].into();
    lab.runtime.run(&spec).unwrap();
    assert_eq!(lab.wait_exit(&spec.id).code, 0, "{}", lab.logs(&spec.id));
    assert_eq!(
        lab.logs(&spec.id),
        "read-only\n321\n777\nCapEff:\t0000000000000000\n"
    );
    lab.delete_and_check(&spec.id);

    let mut bad = lab.spec("bad", &["true"]);
    bad.sysctls = [("kernel.pid_max".to_owned(), "1".to_owned())].into();
    let err = lab.runtime.run(&bad).unwrap_err();
    assert!(err.to_string().contains("not namespaced"), "{err}");
}

#[test]
fn a_container_stops_with_its_own_signal() {
    let lab = Lab::new("sig");
    let script = "trap 'echo got-usr1; exit 0' USR1; echo ready; while true; do sleep 0.1; done";
    let mut spec = lab.spec("s", &["sh", "-c", script]);
    spec.stop_signal = Some("SIGUSR1".into());
    spec.stop_grace = Some(Duration::from_secs(30));
    lab.runtime.run(&spec).unwrap();
    let deadline = std::time::Instant::now() + super::tests::TIMEOUT;
    while !lab.logs(&spec.id).contains("ready") {
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = lab.runtime.stop(&spec.id, Duration::from_secs(1)).unwrap();
    assert_eq!(status.map(|s| s.code), Some(0), "{}", lab.logs(&spec.id));
    assert!(lab.logs(&spec.id).contains("got-usr1"));
    lab.delete_and_check(&spec.id);
}

#[test]
fn with_init_the_command_runs_under_tini_as_pid_1() {
    // Debian's tini package (setup installs it) ships a static build.
    let init = std::path::PathBuf::from("/usr/bin/tini-static");
    assert!(init.exists(), "no {} (setup installs tini)", init.display());
    let lab = Lab::new("init");
    let mut spec = lab.spec("i", &["sh", "-c", "cat /proc/1/comm; echo $$"]);
    spec.init = Some(init);
    lab.runtime.run(&spec).unwrap();
    assert_eq!(lab.wait_exit(&spec.id).code, 0, "{}", lab.logs(&spec.id));
    let logs = lab.logs(&spec.id);
    let mut lines = logs.lines();
    assert_eq!(lines.next(), Some("docker-init"), "{logs}");
    assert_ne!(lines.next(), Some("1"), "the command is not PID 1: {logs}");
    lab.delete_and_check(&spec.id);
}
