//! The CLI against one real daemon: a single-manager swarm on the
//! loopback of a network namespace made for the test (the daemon's agent
//! attaches the data plane to its underlay, which must not be the host's),
//! driven through `shoal service|network|secret` as a user would. Every
//! service is pinned by a constraint no node satisfies, so no container is
//! ever started; that also makes the convergence view's failure path
//! deterministic. Needs root (`ip netns`), like the runtime's tests.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed step should stop the test where it happened"
)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;

/// A constraint no node satisfies.
const NOWHERE: &str = "node.labels.cli-test-nowhere==true";

/// Tests of this file running at once each get their own namespace.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A daemon in its own network namespace on a temporary socket; on drop
/// it is killed (by its own process ID), the namespace deleted and its
/// data-plane pins removed.
struct Daemon {
    child: Child,
    socket: PathBuf,
    /// Namespace name, also the daemon's data-plane pin name.
    netns: String,
    dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
        let bpffs = std::env::var("SHOAL_BPFFS").unwrap_or_else(|_| "/sys/fs/bpf".to_owned());
        let _ = std::fs::remove_dir_all(PathBuf::from(bpffs).join("shoal").join(&self.netns));
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().unwrap();
    assert!(status.success(), "ip {args:?} failed (the test needs root)");
}

impl Daemon {
    /// Starts `shoal daemon` and makes it the manager of a new swarm.
    fn swarm() -> Daemon {
        let netns = format!(
            "shoal-cli-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &netns]);
        ip(&["-n", &netns, "link", "set", "lo", "up"]);
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("api.sock");
        // `ip netns exec` execs the daemon: the child's ID is the daemon's.
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &netns,
                env!("CARGO_BIN_EXE_shoal"),
                "daemon",
            ])
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--socket")
            .arg(&socket)
            .args(["--node-name", "cli-test", "--dp-node", &netns])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("daemon.log")).unwrap())
            .spawn()
            .unwrap();
        let daemon = Daemon {
            child,
            socket,
            netns,
            dir,
        };
        daemon.eventually("the daemon to answer", &["swarm", "inspect"]);
        daemon.ok(&[
            "swarm",
            "init",
            "--advertise-addr",
            "127.0.0.1",
            "--listen-addr",
            "127.0.0.1:2377",
        ]);
        daemon.eventually("the manager to serve services", &["service", "ls"]);
        daemon
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
            .args(args)
            .env("SHOAL_HOST", format!("unix://{}", self.socket.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or_default()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Stdout of a command that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "shoal {args:?} failed: {stderr}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Stdout and stderr of a command that must fail.
    fn fails(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args, None);
        assert!(!out.status.success(), "shoal {args:?} succeeded");
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// Stdout of a command run again until `done` holds for it.
    fn until(&self, args: &[&str], done: impl Fn(&str) -> bool) -> String {
        for _ in 0..100 {
            let out = self.ok(args);
            if done(&out) {
                return out;
            }
            sleep(Duration::from_millis(100));
        }
        panic!("shoal {args:?} never printed what was expected");
    }

    fn eventually(&self, what: &str, args: &[&str]) {
        for _ in 0..100 {
            if self.run(args, None).status.success() {
                return;
            }
            sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}");
    }
}

#[test]
fn services_networks_and_secrets_through_the_cli() {
    let daemon = Daemon::swarm();
    daemon.ok(&["network", "create", "--opt", "encrypted", "secure"]);
    let secure = daemon.ok(&["network", "inspect", "secure", "--format", "json"]);
    assert!(secure.contains("\"encrypted\": true"), "{secure}");
    let network_id = daemon.ok(&["network", "create", "front"]);
    assert_eq!(network_id.trim().len(), 25, "{network_id}");
    let networks = daemon.ok(&["network", "ls"]);
    assert!(
        networks.contains("front") && networks.contains("ingress"),
        "{networks}"
    );
    let out = daemon.run(&["secret", "create", "db", "-"], Some(b"hunter2"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(daemon.ok(&["secret", "ls"]).contains(" db "));

    let id = daemon.ok(&[
        "service",
        "create",
        "--name",
        "web",
        "--replicas",
        "2",
        "-p",
        "8080:80",
        "--network",
        "front",
        "--secret",
        "db",
        "--constraint",
        NOWHERE,
        "-d",
        "busybox",
        "sleep",
        "100",
    ]);
    assert_eq!(id.trim().len(), 25, "{id}");
    let listed = daemon.json(&["service", "ls", "--format", "json"]);
    assert_eq!(listed[0]["spec"]["name"], "web");
    assert_eq!(listed[0]["desired"], 2);
    let table = daemon.ok(&["service", "ls"]);
    assert!(
        table.contains("0/2") && table.contains("*:8080->80/tcp"),
        "{table}"
    );

    // The manager makes and schedules the tasks in its own time.
    let ps = daemon.until(&["service", "ps", "--no-trunc", "web"], |ps| {
        ps.matches("no suitable node").count() == 2
    });
    let rows: Vec<&str> = ps.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{ps}");
    assert!(
        rows[0].contains("web.1") && rows[1].contains("web.2"),
        "{ps}"
    );
    assert!(rows.iter().all(|r| r.contains("Pending")), "{ps}");

    assert_eq!(
        daemon.ok(&["service", "scale", "web=3", "-d"]),
        "web scaled to 3\n"
    );
    daemon.ok(&[
        "service",
        "update",
        "--env-add",
        "A=1",
        "--publish-rm",
        "8080",
        "-d",
        "web",
    ]);
    let inspected = daemon.json(&["service", "inspect", "web"]);
    let spec = &inspected[0]["spec"];
    assert_eq!(spec["mode"]["replicated"]["replicas"], 3);
    assert_eq!(spec["env"], serde_json::json!(["A=1"]));
    assert_eq!(spec["ports"], serde_json::json!([]));
    assert!(
        daemon
            .ok(&["service", "inspect", "--pretty", "web"])
            .contains("Replicas:\t3")
    );
}

#[test]
fn the_convergence_view_fails_with_the_task_errors() {
    let daemon = Daemon::swarm();
    let (stdout, stderr) = daemon.fails(&[
        "service",
        "create",
        "--name",
        "stuck",
        "--constraint",
        NOWHERE,
        "--timeout",
        "4s",
        "busybox",
    ]);
    assert!(
        stdout.contains("overall progress: 0 out of 1 tasks"),
        "{stdout}"
    );
    assert!(stdout.contains("1/1: no suitable node"), "{stdout}");
    assert!(stderr.contains("did not converge within 4s"), "{stderr}");
    assert!(stderr.contains("stuck.1: no suitable node"), "{stderr}");

    daemon.ok(&[
        "service",
        "create",
        "--name",
        "everywhere",
        "--mode",
        "global",
        "--constraint",
        NOWHERE,
        "-d",
        "busybox",
    ]);
    let (_, stderr) = daemon.fails(&["service", "scale", "everywhere=2", "-d"]);
    assert!(
        stderr.contains("scale can only be used with replicated mode"),
        "{stderr}"
    );
    let (_, stderr) = daemon.fails(&["service", "inspect", "nope"]);
    assert!(stderr.contains("service nope not found"), "{stderr}");

    assert_eq!(
        daemon.ok(&["service", "rm", "stuck", "everywhere"]),
        "stuck\neverywhere\n"
    );
    assert_eq!(
        daemon.json(&["service", "ls", "--format", "json"]),
        serde_json::json!([])
    );
}

#[test]
fn the_swarms_own_ports_and_oversized_specs_are_refused() {
    let daemon = Daemon::swarm();
    // The mesh would capture the managers' heartbeats and raft on 2377, or
    // the overlay on the data-path port; host mode would on the task's node.
    for (publish, names) in [
        ("2377:80", ["port 2377", "control port of node"]),
        ("4789:80", ["port 4789", "data-path (VXLAN) port"]),
        (
            "published=2377,target=80,mode=host",
            ["port 2377", "control port of node"],
        ),
    ] {
        let (_, err) = daemon.fails(&[
            "service", "create", "--name", "grab", "-p", publish, "web:1",
        ]);
        for name in names {
            assert!(err.contains(name), "-p {publish}: {err}");
        }
    }
    let (_, err) = daemon.fails(&[
        "service",
        "create",
        "--name",
        "typo",
        "--replicas",
        "4294967296",
        "web:1",
    ]);
    assert!(err.contains("more than the 100000"), "{err}");
    assert_eq!(
        daemon.ok(&["service", "ls", "-q"]).trim(),
        "",
        "nothing created"
    );
}

#[test]
fn a_second_daemon_on_the_same_state_dir_exits_and_the_first_keeps_serving() {
    let daemon = Daemon::swarm();
    // The same state directory and even the same socket path: the second
    // daemon must refuse before it deletes the first one's socket.
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &daemon.netns,
            env!("CARGO_BIN_EXE_shoal"),
            "daemon",
        ])
        .arg("--state-dir")
        .arg(daemon.dir.path().join("state"))
        .arg("--socket")
        .arg(&daemon.socket)
        .args(["--node-name", "intruder", "--dp-node", &daemon.netns])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = exit_within(out, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second daemon ran: {stderr}");
    assert!(
        stderr.contains("another shoal daemon (pid")
            && stderr.contains("is using the state directory"),
        "{stderr}"
    );
    assert!(daemon.socket.exists(), "the first daemon's socket is gone");
    let swarm = daemon.json(&["swarm", "inspect", "--format", "json"]);
    assert!(swarm.is_object(), "{swarm}");
    daemon.ok(&["service", "ls"]);
}

/// The output of `child` once it exits; it is killed (and the test fails)
/// if it is still running after `patience`.
fn exit_within(mut child: Child, patience: Duration) -> Output {
    for _ in 0..patience.as_millis() / 100 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the second daemon was still running after {patience:?}");
}

#[test]
fn the_daemon_log_carries_openraft_events_and_its_own_with_levels() {
    let daemon = Daemon::swarm();
    let log = daemon.dir.path().join("daemon.log");
    let mut text = String::new();
    for _ in 0..50 {
        text = std::fs::read_to_string(&log).unwrap();
        if text.contains(" openraft") {
            break;
        }
        sleep(Duration::from_millis(100));
    }
    // openraft logs through `tracing`, shoal through `log`: one subscriber
    // shows both, each line with its level and target.
    let line_of = |target: &str| {
        text.lines()
            .find(|l| l.contains(" INFO ") && l.contains(target))
            .map(str::to_owned)
    };
    assert!(
        line_of(" openraft").is_some(),
        "no openraft INFO line in:\n{text}"
    );
    assert!(
        line_of("API listening on unix://").is_some(),
        "no INFO line of shoal's own in:\n{text}"
    );
}
