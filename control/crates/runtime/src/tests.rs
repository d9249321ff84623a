//! Container tests on real runc (run as root): each test builds a busybox
//! image archive, loads it through `load`, runs containers, and deletes
//! them all on the way out (a drop guard, so also when a test panics).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::image::{ExtraFile, build_busybox_image};
use super::*;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// A runtime on a temporary state directory with one image, `test:latest`.
pub(crate) struct Lab {
    pub(crate) runtime: Runtime,
    tag: String,
    _dir: tempfile::TempDir,
}

impl Lab {
    pub(crate) fn new(tag: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::open(RuntimeConfig::new(&dir.path().join("state"))).unwrap();
        let archive = dir.path().join("image.tar");
        let page = ExtraFile::new("/www/index.html", "<h1>shoal</h1>\n");
        build_busybox_image("test", &[page], &["sh", "-c", "echo default"], &archive).unwrap();
        runtime.images().load(&archive).unwrap();
        Self {
            runtime,
            tag: format!("{tag}-{}", std::process::id()),
            _dir: dir,
        }
    }

    /// A spec for `test:latest` running `args`, with an id unique on the host.
    pub(crate) fn spec(&self, name: &str, args: &[&str]) -> ContainerSpec {
        ContainerSpec {
            id: format!("{}-{name}", self.tag),
            image: "test".to_owned(),
            args: Some(args.iter().map(|a| (*a).to_owned()).collect()),
            ..ContainerSpec::default()
        }
    }

    pub(crate) fn wait_exit(&self, id: &str) -> ExitStatus {
        let status = self.runtime.wait(id, TIMEOUT).unwrap();
        status.unwrap_or_else(|| panic!("{id} did not exit: {:?}", self.runtime.state(id)))
    }

    pub(crate) fn logs(&self, id: &str) -> String {
        String::from_utf8(self.runtime.logs(id).unwrap()).unwrap()
    }

    /// Deletes `id` and checks nothing of it is left on the host.
    pub(crate) fn delete_and_check(&self, id: &str) {
        let bundle = self.runtime.bundle(id);
        self.runtime.delete(id).unwrap();
        assert!(!bundle.exists(), "bundle left behind");
        assert!(!netns_path(&netns_name(id)).exists(), "netns left behind");
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(bundle.to_str().unwrap()),
            "mount left behind"
        );
        assert!(matches!(
            self.runtime.state(id),
            Err(RuntimeError::NotFound { .. })
        ));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for container in self.runtime.list().unwrap_or_default() {
            if let Err(e) = self.runtime.delete(&container.id) {
                eprintln!("cleanup of {}: {e}", container.id);
            }
        }
    }
}

#[test]
fn container_runs_to_completion_with_logs_and_exit_code() {
    let lab = Lab::new("done");
    let script = "echo hello; echo oops >&2; echo data > /tmp/file; cat /tmp/file";
    let spec = lab.spec("ok", &["sh", "-c", script]);
    let container = lab.runtime.run(&spec).unwrap();
    let exit = lab.wait_exit(&spec.id);
    assert_eq!(
        exit,
        ExitStatus {
            code: 0,
            signal: None
        }
    );
    let state = lab.runtime.state(&spec.id).unwrap();
    assert_eq!(
        (state.status, state.pid, state.exit),
        (Status::Stopped, None, Some(exit))
    );
    assert_eq!(lab.logs(&spec.id), "hello\noops\ndata\n");
    // The write went to the container's upper dir, not to the image.
    assert!(container.bundle.join("upper/tmp/file").is_file());
    let image = lab.runtime.images().resolve("test").unwrap();
    assert!(!image.layers.iter().any(|l| l.join("tmp/file").exists()));

    let failing = lab.spec("fail", &["sh", "-c", "exit 3"]);
    lab.runtime.run(&failing).unwrap();
    assert_eq!(
        lab.wait_exit(&failing.id),
        ExitStatus {
            code: 3,
            signal: None
        }
    );
    let ids: Vec<_> = lab
        .runtime
        .list()
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, [failing.id.clone(), spec.id.clone()]);
    lab.delete_and_check(&spec.id);
    lab.delete_and_check(&failing.id);
}

#[test]
fn created_container_waits_for_start_and_dies_by_signal() {
    let lab = Lab::new("kill");
    let spec = lab.spec("sleep", &["sleep", "1000"]);
    let container = lab.runtime.create(&spec).unwrap();
    let state = lab.runtime.state(&spec.id).unwrap();
    assert_eq!(
        (state.status, state.pid),
        (Status::Created, Some(container.pid))
    );
    lab.runtime.start(&spec.id).unwrap();
    assert_eq!(lab.runtime.state(&spec.id).unwrap().status, Status::Running);
    assert_eq!(
        lab.runtime
            .wait(&spec.id, Duration::from_millis(300))
            .unwrap(),
        None
    );
    lab.runtime.kill(&spec.id, libc::SIGKILL).unwrap();
    let exit = lab.wait_exit(&spec.id);
    assert_eq!(
        exit,
        ExitStatus {
            code: 137,
            signal: Some(libc::SIGKILL)
        }
    );
    let state = lab.runtime.state(&spec.id).unwrap();
    assert_eq!((state.status, state.exit), (Status::Stopped, Some(exit)));
    lab.delete_and_check(&spec.id);
}

#[test]
fn stop_escalates_to_sigkill_for_an_init_ignoring_sigterm() {
    let lab = Lab::new("stop");
    // PID 1 ignores SIGTERM unless it handles it: stop must escalate.
    let spec = lab.spec("sleep", &["sleep", "1000"]);
    lab.runtime.run(&spec).unwrap();
    let exit = lab
        .runtime
        .stop(&spec.id, Duration::from_millis(500))
        .unwrap();
    assert_eq!(exit.and_then(|e| e.signal), Some(libc::SIGKILL));
}

#[test]
fn exec_runs_in_the_container_and_reports_exit_codes_and_timeouts() {
    let lab = Lab::new("exec");
    let mut spec = lab.spec("sleep", &["sleep", "1000"]);
    spec.env = vec!["MARK=inside".to_owned()];
    lab.runtime.run(&spec).unwrap();
    let argv = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    // The container's environment and filesystem, not the host's.
    let check = argv(&[
        "sh",
        "-c",
        "test \"$MARK\" = inside && test -f /www/index.html",
    ]);
    assert_eq!(lab.runtime.exec(&spec.id, &check, TIMEOUT).unwrap(), 0);
    let fail = argv(&["sh", "-c", "exit 7"]);
    assert_eq!(lab.runtime.exec(&spec.id, &fail, TIMEOUT).unwrap(), 7);
    let hang = argv(&["sleep", "30"]);
    assert!(matches!(
        lab.runtime
            .exec(&spec.id, &hang, Duration::from_millis(300)),
        Err(RuntimeError::ExecTimeout { .. })
    ));
    lab.delete_and_check(&spec.id);
}

#[test]
fn env_and_hostname_are_visible_inside() {
    let lab = Lab::new("env");
    let mut spec = lab.spec("env", &["sh", "-c", "echo $FOO; hostname; pwd"]);
    spec.env = vec!["FOO=bar baz".to_owned()];
    spec.hostname = Some("web-1".to_owned());
    spec.workdir = Some("/www".to_owned());
    lab.runtime.run(&spec).unwrap();
    assert_eq!(lab.wait_exit(&spec.id).code, 0);
    assert_eq!(lab.logs(&spec.id), "bar baz\nweb-1\n/www\n");
}

/// The cgroup v1 directory of `pid` for `controller`.
pub(crate) fn cgroup_dir(pid: u32, controller: &str) -> std::path::PathBuf {
    let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let line = cgroups
        .lines()
        .find(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|c| c == controller))
        })
        .unwrap_or_else(|| panic!("no {controller} cgroup in {cgroups}"));
    let path = line.splitn(3, ':').nth(2).unwrap();
    let mount = fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .split(',')
                .any(|c| c == controller)
        })
        .unwrap();
    mount.join(path.trim_start_matches('/'))
}

#[test]
fn memory_and_cpu_limits_land_in_the_cgroup() {
    let lab = Lab::new("mem");
    let mut spec = lab.spec("limits", &["sleep", "1000"]);
    spec.resources = Resources {
        memory_limit_bytes: Some(32 << 20),
        cpu_shares: Some(512),
        cpu_quota_us: Some(50_000),
        pids_limit: Some(64),
        ..Resources::default()
    };
    let container = lab.runtime.run(&spec).unwrap();
    let read = |controller, file| {
        let path = cgroup_dir(container.pid, controller).join(file);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    assert_eq!(
        read("memory", "memory.limit_in_bytes").trim(),
        (32u64 << 20).to_string()
    );
    assert!(cgroup_dir(container.pid, "memory").ends_with(format!("shoal/{}", spec.id)));
    assert_eq!(read("cpu", "cpu.shares").trim(), "512");
    assert_eq!(read("cpu", "cpu.cfs_quota_us").trim(), "50000");
    assert_eq!(read("cpu", "cpu.cfs_period_us").trim(), "100000");
    assert_eq!(read("pids", "pids.max").trim(), "64");
    lab.delete_and_check(&spec.id);
}

#[test]
fn secrets_are_exactly_the_given_files_on_a_tmpfs() {
    let lab = Lab::new("secret");
    let script = "ls -A /run/secrets; cat /run/secrets/db_password; echo; \
                  grep ' /run/secrets ' /proc/mounts | cut -d' ' -f1-3; \
                  (echo x > /run/secrets/new) 2>/dev/null || echo read-only";
    let mut spec = lab.spec("s", &["sh", "-c", script]);
    spec.secrets = vec![
        SecretFile {
            name: "db_password".into(),
            data: b"hunter2".to_vec(),
            uid: 0,
            gid: 0,
            mode: 0o400,
        },
        SecretFile {
            name: "api_key".into(),
            data: b"k".to_vec(),
            uid: 0,
            gid: 0,
            mode: 0o400,
        },
    ];
    let container = lab.runtime.create(&spec).unwrap();
    // On the host the secrets live on a tmpfs, not on the bundle's disk.
    let secrets = container.bundle.join("secrets");
    let bundle_dev = fs::metadata(&container.bundle).unwrap().dev();
    assert_ne!(fs::metadata(&secrets).unwrap().dev(), bundle_dev);
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        mounts
            .lines()
            .any(|l| l.starts_with("tmpfs ") && l.contains(secrets.to_str().unwrap()))
    );
    lab.runtime.start(&spec.id).unwrap();
    assert_eq!(lab.wait_exit(&spec.id).code, 0);
    assert_eq!(
        lab.logs(&spec.id),
        "api_key\ndb_password\nhunter2\ntmpfs /run/secrets tmpfs\nread-only\n"
    );
    assert!(
        !container
            .bundle
            .join("upper/run/secrets/db_password")
            .exists()
    );
    lab.delete_and_check(&spec.id);
}

/// `readlink /proc/self/ns/net` run inside the named netns from the host.
fn netns_id_from_outside(name: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", name, "readlink", "/proc/self/ns/net"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn container_lives_in_the_netns_the_runtime_created() {
    let lab = Lab::new("netns");
    let script = "ip -o link | cut -d' ' -f2; readlink /proc/self/ns/net; sleep 1000";
    let spec = lab.spec("n", &["sh", "-c", script]);
    let container = lab.runtime.create(&spec).unwrap();
    let name = netns_name(&spec.id);
    assert_eq!(container.netns_name.as_deref(), Some(name.as_str()));
    assert_eq!(container.netns, netns_path(&name));
    // The init (not yet started) is already in it: the data plane can attach now.
    let ns = |p: &Path| fs::metadata(p).map(|m| (m.dev(), m.ino())).unwrap();
    let init_ns = Path::new("/proc")
        .join(container.pid.to_string())
        .join("ns/net");
    assert_eq!(ns(&init_ns), ns(&container.netns));
    lab.runtime.start(&spec.id).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while lab.logs(&spec.id).lines().count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs = lab.logs(&spec.id);
    let lines: Vec<_> = logs.lines().collect();
    assert_eq!(
        lines,
        ["lo:", netns_id_from_outside(&name).as_str()],
        "{logs}"
    );
    lab.delete_and_check(&spec.id);
}

#[test]
fn httpd_in_a_container_answers_inside_its_netns() {
    let lab = Lab::new("httpd");
    let spec = lab.spec("web", &["httpd", "-f", "-p", "80", "-h", "/www"]);
    lab.runtime.run(&spec).unwrap();
    let name = netns_name(&spec.id);
    let deadline = Instant::now() + TIMEOUT;
    let page = loop {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &name,
                "/bin/busybox",
                "wget",
                "-qO-",
                "http://127.0.0.1:80/",
            ])
            .output()
            .unwrap();
        if out.status.success() {
            break String::from_utf8(out.stdout).unwrap();
        }
        assert!(Instant::now() < deadline, "httpd never answered: {:?}", out);
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(page, "<h1>shoal</h1>\n");
    // Nothing listens on the host's loopback for it.
    let host = Command::new("/bin/busybox")
        .args(["wget", "-qO-", "-T", "2", "http://127.0.0.1:80/"])
        .output()
        .unwrap();
    assert!(!host.status.success() || host.stdout != page.as_bytes());
    lab.delete_and_check(&spec.id);
}

#[test]
fn joining_an_existing_netns_leaves_it_alone() {
    let lab = Lab::new("join");
    let name = format!("{}-ext", lab.tag);
    let out = Command::new("ip")
        .args(["netns", "add", &name])
        .output()
        .unwrap();
    assert!(out.status.success());
    let _external = ExternalNetns(name.clone());
    let mut spec = lab.spec("j", &["readlink", "/proc/self/ns/net"]);
    spec.netns = Some(netns_path(&name));
    let container = lab.runtime.run(&spec).unwrap();
    assert_eq!(container.netns_name, None);
    assert_eq!(lab.wait_exit(&spec.id).code, 0);
    assert_eq!(lab.logs(&spec.id).trim(), netns_id_from_outside(&name));
    lab.delete_and_check(&spec.id);
    assert!(
        netns_path(&name).exists(),
        "a joined netns is not the runtime's to delete"
    );
}

/// A namespace made by a test, deleted when dropped.
struct ExternalNetns(String);

impl Drop for ExternalNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .output();
    }
}

#[test]
fn bad_specs_are_refused_and_leave_nothing() {
    let lab = Lab::new("bad");
    let mut spec = lab.spec("bad", &["true"]);
    spec.id = "-nope".to_owned();
    assert!(matches!(
        lab.runtime.create(&spec),
        Err(RuntimeError::InvalidId { .. })
    ));
    let mut spec = lab.spec("noimage", &["true"]);
    spec.image = "missing:1".to_owned();
    assert!(matches!(
        lab.runtime.create(&spec),
        Err(RuntimeError::Image(_))
    ));
    assert!(!lab.runtime.bundle(&spec.id).exists());

    let spec = lab.spec("noexec", &["/no/such/binary"]);
    let err = match lab.runtime.create(&spec) {
        Ok(_) => lab.runtime.start(&spec.id).unwrap_err(),
        Err(e) => {
            assert!(!lab.runtime.bundle(&spec.id).exists());
            assert!(!netns_path(&netns_name(&spec.id)).exists());
            e
        }
    };
    assert!(err.to_string().contains("/no/such/binary"), "{err}");

    let spec = lab.spec("dup", &["sleep", "1000"]);
    lab.runtime.create(&spec).unwrap();
    assert!(matches!(
        lab.runtime.create(&spec),
        Err(RuntimeError::AlreadyExists { .. })
    ));
    assert!(matches!(
        lab.runtime.delete("nothing-here"),
        Err(RuntimeError::NotFound { .. })
    ));
}

/// A command that cannot be executed fails the container's creation with
/// the cause in Docker's words — never the internal runc command line —
/// and leaves nothing behind.
#[test]
fn an_executable_that_does_not_exist_is_named_in_the_error() {
    let lab = Lab::new("noexec");
    let spec = lab.spec("missing", &["/nonexistent-binary"]);
    let err = lab.runtime.run(&spec).unwrap_err().to_string();
    assert_eq!(
        err,
        "starting container failed: exec: \"/nonexistent-binary\": \
         stat /nonexistent-binary: no such file or directory",
        "the error should be the cause, as Docker shows it"
    );
    assert!(
        lab.runtime.list().unwrap().is_empty(),
        "container left behind"
    );

    let spec = lab.spec("noperm", &["/etc/passwd"]);
    let err = lab.runtime.run(&spec).unwrap_err().to_string();
    assert_eq!(
        err, "starting container failed: exec: \"/etc/passwd\": permission denied",
        "a file that is not executable is named as such"
    );
}

/// A container that outgrows its memory limit is killed by the kernel,
/// and its state says so; one that simply fails does not.
#[test]
fn an_oom_killed_container_is_reported_as_such() {
    let lab = Lab::new("oom");
    let mut spec = lab.spec(
        "hog",
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
    );
    spec.resources = Resources {
        memory_limit_bytes: Some(16 << 20),
        ..Resources::default()
    };
    lab.runtime.run(&spec).unwrap();
    let exit = lab.wait_exit(&spec.id);
    let state = lab.runtime.state(&spec.id).unwrap();
    assert!(
        state.oom_killed,
        "a 64 MiB buffer under a 16 MiB limit: {exit:?}"
    );
    assert_eq!(exit.signal, Some(9), "the OOM killer sends SIGKILL");

    let failing = lab.spec("fail", &["sh", "-c", "exit 3"]);
    lab.runtime.run(&failing).unwrap();
    lab.wait_exit(&failing.id);
    assert!(!lab.runtime.state(&failing.id).unwrap().oom_killed);
}
