//! Running a swarm in a lab: one `shoal daemon` per node (own state
//! directory and API socket), the CLI pointed at it with `-H`, and
//! patient polling instead of timing assertions.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lab::cmd::CmdError;
use crate::lab::{Lab, Node};

/// How long anything a test waits for may take; never a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(40);

/// A node of the lab with its daemon.
#[derive(Debug, Clone)]
pub struct SwarmNode {
    node: Node,
    /// The node's name (`n1`, ...): HOSTNAME in `node ls`.
    pub name: String,
    pid: Option<u32>,
    /// More `shoal daemon` options, used at every start.
    pub daemon_args: Vec<String>,
    /// More environment of the daemon (`NOTIFY_SOCKET`, ...).
    pub daemon_env: Vec<(String, String)>,
    /// The running daemon's output file.
    log: Option<PathBuf>,
}

/// Whether process `pid` is gone or a zombie whose every thread has
/// exited: a killed multi-threaded process's leader turns zombie before
/// its other threads are done, and they hold its descriptors (the state
/// directory's lock among them) until then.
fn exited(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    field("State:").starts_with('Z') && field("Threads:") == "1"
}

impl SwarmNode {
    /// Node `index` of the lab, named `n<index>`, daemon not started.
    pub fn new(node: &Node, index: usize) -> Self {
        Self {
            node: node.clone(),
            name: format!("n{index}"),
            pid: None,
            daemon_args: Vec::new(),
            daemon_env: Vec::new(),
            log: None,
        }
    }

    /// Starts (and restarts) the daemon with `args` added to its options.
    pub fn with_daemon_args(mut self, args: &[&str]) -> Self {
        self.daemon_args = args.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// The daemon's state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.node.state_dir().join("shoal")
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.node.state_dir().join("shoal.sock")
    }

    /// The daemon's process ID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The lab node.
    pub fn lab_node(&self) -> &Node {
        &self.node
    }

    /// `ip:2377`.
    pub fn control_addr(&self) -> String {
        format!("{}:2377", self.node.addr())
    }

    /// Starts the daemon and waits until its socket answers.
    pub fn start(&mut self) -> Result<(), CmdError> {
        self.spawn_daemon()?;
        let answered = poll_until(|| self.cli(&["swarm", "inspect"]).is_ok());
        if !answered {
            // What the daemon said is the first thing a failure needs.
            let log = self
                .log
                .as_ref()
                .and_then(|path| std::fs::read_to_string(path).ok())
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "timed out waiting for {} daemon to answer; its log ends:\n{}",
                self.name,
                tail.join("\n")
            );
        }
        Ok(())
    }

    /// Starts the daemon without waiting for it.
    pub fn spawn_daemon(&mut self) -> Result<(), CmdError> {
        let _ = std::fs::remove_file(self.socket());
        let state = self.state_dir();
        let socket = self.socket();
        let mut command = self.node.shoal_command(&[
            "daemon".as_ref(),
            "--state-dir".as_ref(),
            state.as_os_str(),
            "--socket".as_ref(),
            socket.as_os_str(),
            "--node-name".as_ref(),
            self.name.as_ref(),
        ]);
        command.args(&self.daemon_args);
        command.env("RUST_LOG", "info");
        command.envs(self.daemon_env.iter().map(|(k, v)| (k, v)));
        let spawned = self.node.spawn_command(command)?;
        self.pid = Some(spawned.pid);
        self.log = Some(spawned.log.clone());
        Ok(())
    }

    /// Asks the daemon to stop (SIGTERM), as systemd does.
    pub fn terminate(&mut self) {
        if let Some(pid) = self.pid.take() {
            let pid = i32::try_from(pid).unwrap_or(i32::MAX);
            // SAFETY: kill has no memory preconditions; pid is our child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }

    /// Kills the daemon outright (SIGKILL): a crash, not a shutdown. Returns
    /// once the process has died (its files, the state directory's lock
    /// among them, are closed): the kernel tears a big process down
    /// asynchronously, and a daemon started at once would find the lock
    /// still held.
    pub fn kill(&mut self) {
        if let Some(pid) = self.pid.take() {
            let raw = i32::try_from(pid).unwrap_or(i32::MAX);
            // SAFETY: kill has no memory preconditions; pid is our child.
            unsafe { libc::kill(raw, libc::SIGKILL) };
            let dead = poll_until(|| exited(pid));
            assert!(dead, "{} daemon (pid {pid}) survived SIGKILL", self.name);
        }
    }

    /// Runs `shoal <group> -H unix://<socket> <rest>` on the node.
    pub fn cli(&self, args: &[&str]) -> Result<String, CmdError> {
        let host = format!("unix://{}", self.socket().display());
        // `-H` right after the command group: at the end it would be taken
        // as a trailing argument (`service create IMAGE ARG...`).
        let mut all: Vec<&str> = args.to_vec();
        let at = usize::from(!all.is_empty());
        all.splice(at..at, ["-H", host.as_str()]);
        self.node.shoal(&all)
    }

    /// Like [`SwarmNode::cli`] but expects failure and returns stderr.
    pub fn cli_err(&self, args: &[&str]) -> String {
        match self.cli(args) {
            Ok(out) => panic!("shoal {args:?} on {} succeeded: {out}", self.name),
            Err(CmdError::Failed { stderr, .. }) => stderr,
            Err(other) => panic!("shoal {args:?} could not run: {other}"),
        }
    }

    /// `node ls --format json`.
    pub fn nodes(&self) -> Result<Vec<serde_json::Value>, CmdError> {
        let out = self.cli(&["node", "ls", "--format", "json"])?;
        Ok(serde_json::from_str(&out).unwrap_or_default())
    }
}

/// Polls `check` until it holds (true) or [`PATIENCE`] runs out (false),
/// so the caller can say what it saw last.
pub fn poll_until(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Polls `check` until it returns `Some`, panicking after [`PATIENCE`].
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The join command `swarm init` printed: `(token, address)`.
pub fn printed_join_command(init_output: &str) -> Option<(String, String)> {
    let line = init_output
        .lines()
        .find(|l| l.trim_start().starts_with("shoal swarm join --token"))?;
    let mut words = line.split_whitespace().skip(4);
    Some((words.next()?.to_owned(), words.next()?.to_owned()))
}

/// Every file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(files_under(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// A lab of `n` nodes with a daemon running on each.
pub fn swarm_lab(n: usize) -> (Lab, Vec<SwarmNode>) {
    swarm_lab_with(n, &[])
}

/// A lab of `n` nodes whose daemons run with the options `daemon_args`.
pub fn swarm_lab_with(n: usize, daemon_args: &[&str]) -> (Lab, Vec<SwarmNode>) {
    let lab = Lab::builder().nodes(n).build().expect("lab");
    let nodes = (1..=n)
        .map(|i| {
            let mut node = SwarmNode::new(lab.node(i).expect("node"), i);
            node.daemon_args = daemon_args.iter().map(|a| (*a).to_owned()).collect();
            node.start().expect("start daemon");
            node
        })
        .collect();
    (lab, nodes)
}

/// `swarm init` on `node` (advertising its lab address) with `extra`
/// options; returns the printed worker token, join address and output.
pub fn init(node: &SwarmNode, extra: &[&str]) -> (String, String, String) {
    let addr = node.lab_node().addr().to_string();
    let mut args = vec!["swarm", "init", "--advertise-addr", &addr];
    args.extend(extra);
    let out = node.cli(&args).expect("swarm init");
    assert!(
        out.starts_with("Swarm initialized: current node (") && out.contains(") is now a manager."),
        "{out}"
    );
    let (token, at) = printed_join_command(&out).expect("a join command in the output");
    (token, at, out)
}

/// A string field of a JSON node (empty if absent).
pub fn field<'a>(node: &'a Value, key: &str) -> &'a str {
    node.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Waits until `on` lists `count` nodes, all ready, and returns them.
pub fn all_ready(on: &SwarmNode, count: usize) -> Vec<Value> {
    eventually(&format!("{count} ready nodes on {}", on.name), || {
        let nodes = on.nodes().ok()?;
        let ready = nodes
            .iter()
            .filter(|n| field(n, "status") == "ready")
            .count();
        (nodes.len() == count && ready == count).then_some(nodes)
    })
}

/// The sorted node IDs of a `node ls --format json` list.
pub fn ids(nodes: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = nodes.iter().map(|n| field(n, "id").to_owned()).collect();
    ids.sort();
    ids
}

/// The hostname of the node listed as Leader.
pub fn leader_name(nodes: &[Value]) -> Option<String> {
    nodes
        .iter()
        .find(|n| field(n, "manager_status") == "Leader")
        .map(|n| field(n, "hostname").to_owned())
}

/// A lab of three managers (n1 initialised, n2 and n3 joined), all ready
/// as every one of them sees it.
pub fn three_managers() -> (Lab, Vec<SwarmNode>) {
    managers(3)
}

/// A lab of `n` managers (n1 initialised, the others joined), all ready as
/// every one of them sees it.
pub fn managers(n: usize) -> (Lab, Vec<SwarmNode>) {
    let (lab, nodes) = swarm_lab(n);
    let (_, at, _) = init(&nodes[0], &[]);
    let token = nodes[0]
        .cli(&["swarm", "join-token", "manager", "-q"])
        .expect("manager token");
    for node in &nodes[1..] {
        node.cli(&["swarm", "join", "--token", token.trim(), &at])
            .expect("join as manager");
    }
    for node in &nodes {
        all_ready(node, n);
    }
    (lab, nodes)
}

/// The index in `nodes` of the leader, as the first node that names one
/// sees it.
pub fn leader_of(nodes: &[SwarmNode]) -> usize {
    eventually("a leader", || {
        let name = nodes.iter().find_map(|n| leader_name(&n.nodes().ok()?))?;
        nodes.iter().position(|n| n.name == name)
    })
}

/// Patience for one control RPC made by [`ctl_call`].
pub const CTL_CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Calls `addr`'s control RPC from inside `from`'s namespace, as another
/// node would: with the node credentials in `creds_dir`, or (without
/// `with_cert`) trusting the CA by its digest as a joining node does.
pub fn ctl_call(
    from: &SwarmNode,
    creds_dir: PathBuf,
    with_cert: bool,
    addr: String,
    request: shoal_ctl::CtlRequest,
) -> Result<Value, shoal_ctl::CtlError> {
    use shoal_ctl::{ALPN_CTL, CtlPool, bootstrap_call};
    use shoal_security::ca::persist::{load_ca_cert, load_node_credentials};
    use shoal_security::tls::{LiveCert, live_client_config};
    let ca = load_ca_cert(&creds_dir).expect("CA certificate");
    let (cert, key) = load_node_credentials(&creds_dir).expect("node credentials");
    from.lab_node()
        .run_in(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if with_cert {
                    let live = LiveCert::new(&ca, &cert, &key).expect("live cert");
                    let config = live_client_config(&ca, live, ALPN_CTL).expect("config");
                    CtlPool::new(config)
                        .call(&addr, &request, CTL_CALL_TIMEOUT)
                        .await
                } else {
                    bootstrap_call(&addr, ca.digest(), &request, CTL_CALL_TIMEOUT).await
                }
            })
        })
        .expect("run in the namespace")
}
