//! Container options of a service on a one-node lab swarm with a real
//! container: user, working directory, read-only root (with a tmpfs to
//! write to), entrypoint, dropped capabilities, an rlimit and a sysctl,
//! as the task's own process sees them.

use shoal_netns_tests::services_kit::ServiceLab;
use shoal_netns_tests::swarm_kit::eventually;

#[test]
fn a_tasks_process_runs_with_the_services_container_options() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(1);
    let script = "id -u; pwd; ulimit -n; cat /proc/sys/net/core/somaxconn; \
                  (touch /x) 2>/dev/null || echo read-only; grep CapEff /proc/self/status; \
                  echo done; while true; do sleep 1; done";
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "opts",
        "--user",
        "1000:1000",
        "--workdir",
        "/tmp",
        "--read-only",
        "--mount",
        "type=tmpfs,target=/tmp",
        "--entrypoint",
        "/bin/sh",
        "--cap-drop",
        "ALL",
        "--ulimit",
        "nofile=100:200",
        "--sysctl",
        "net.core.somaxconn=500",
        "--stop-signal",
        "SIGKILL",
        "web:1",
        "-c",
        script,
    ])
    .expect("service create");
    lab.wait_running("opts", 1);
    let logs = eventually("the task's report", || {
        let logs = lab.cli(&["service", "logs", "opts"]).ok()?;
        logs.contains("done").then_some(logs)
    });
    let lines: Vec<&str> = logs
        .lines()
        .filter_map(|l| l.split_once("| ").map(|(_, text)| text.trim()))
        .collect();
    assert_eq!(
        lines,
        [
            "1000",
            "/tmp",
            "100",
            "500",
            "read-only",
            "CapEff:\t0000000000000000",
            "done"
        ],
        "{logs}"
    );
    let spec = &lab.inspect("opts")["spec"];
    assert_eq!(spec["entrypoint"][0], "/bin/sh", "{spec}");
    assert_eq!(spec["stop_signal"], "SIGKILL", "{spec}");
}
