//! `cargo xtask setup`: installs what a fresh Debian developer machine lacks to build the
//! eBPF programs and run the tests and benchmarks. Every piece is checked first, so a
//! second run installs nothing and prints only "already present".

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::sh;

/// Debian packages the tests and benchmarks use, each with the test that needs it.
const PACKAGES: &[&str] = &[
    "iproute2",        // netns labs: `ip netns`, veth/bridge underlays, addresses and routes
    "runc",            // netns labs: tasks are runc containers
    "busybox-static",  // netns labs: the rootfs of task containers (httpd, sh, ping)
    "iperf3",          // benchmarks: TCP/UDP throughput between tasks across the overlay
    "wrk",             // benchmarks: HTTP load through the service load balancer
    "nftables",        // netns labs: fault injection (dropping underlay traffic)
    "tshark",          // netns labs: decoding captured VXLAN frames (RFC 7348 conformance)
    "tcpdump",         // netns labs: capturing underlay traffic for tshark and debugging
    "bpftool",         // netns labs: inspecting pinned programs, links and maps
    "ethtool", // netns labs: veth checksum offload off; dp apply: GRO on task veths (XDP fast path)
    "socat",   // netns labs: UDP and TCP echo endpoints inside tasks
    "netcat-openbsd", // netns labs: connectivity probes (`nc -z`) between tasks
    "procps",  // netns labs: `sysctl` for forwarding, `pkill` of daemons
    "psmisc",  // netns labs: `killall`/`fuser` to fault daemons and clean up
    "kmod",    // netns labs: `modprobe` of vxlan/veth/nf_tables when not loaded
    "iputils-ping", // netns labs: ICMP reachability between nodes and tasks
    "curl",    // netns labs: HTTP requests to services through the routing mesh
    "docker-registry", // control/crates/runtime/tests/image_pull.rs (loopback) and netns-tests/tests/images.rs (the lab's private registry): an OCI distribution registry
    "docker.io", // netns-tests/tests/engine_{api,stack,swarm}.rs: the stock `docker` client (and `docker stack deploy`) drives shoal through the Engine API (no dockerd is started)
    "apache2-utils", // runtime image tests and the images lab: `htpasswd -B` makes the bcrypt password file of an authenticating registry
    "attr",          // runtime image tests: `getfattr` reads overlayfs' opaque-directory xattr
    "dnsmasq-base", // netns-tests/tests/dns.rs: the lab world's resolver the embedded DNS forwards to
    "bind9-dnsutils", // netns-tests/tests/dns.rs: `dig` in a task's netns (truncated UDP answers retried over TCP)
    "vagrant",        // vagrant/: `vagrant validate` checks the multi-VM lab definition
    "tini", // `service create --init`: the node's init for containers (/usr/bin/tini-static, mounted as /sbin/docker-init)
];

/// The debconf answer that keeps tshark's install from asking about non-root capture.
const TSHARK_PRESEED: &str = "wireshark-common wireshark-common/install-setuid boolean false\n";

/// Where the kernel's BPF filesystem lives.
const BPFFS: &str = "/sys/fs/bpf";

/// Installs whatever is missing, reporting each piece.
pub fn run() -> Result<()> {
    ensure(Verbosity::EveryPiece)?;
    println!("setup: done");
    Ok(())
}

/// Installs whatever is missing before a demo, lab or benchmark: reports what it
/// installs, and a single line when everything was already there.
pub fn ensure_quietly() -> Result<()> {
    if ensure(Verbosity::Installs)? == 0 {
        println!("setup: everything already present (`cargo xtask setup` lists it)");
    }
    Ok(())
}

/// How much `ensure` reports.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verbosity {
    /// Every piece, present or installed.
    EveryPiece,
    /// Only pieces being installed.
    Installs,
}

/// Checks every piece and installs the missing ones; returns how many it installed.
fn ensure(verbosity: Verbosity) -> Result<usize> {
    println!("setup: checking the toolchain pieces and Debian packages shoal's tests use");
    let mut installed = 0;
    for step in [nightly_toolchain(), rust_src(), bpf_linker()] {
        installed += usize::from(step.ensure(verbosity)?);
    }
    installed += debian_packages(verbosity)?;
    installed += usize::from(bpffs().ensure(verbosity)?);
    Ok(installed)
}

/// One piece a developer machine needs: how to tell it is there and how to get it.
struct Step {
    name: String,
    /// What installing it involves and roughly how long it takes, for the
    /// line printed before a long install.
    takes: &'static str,
    check: Box<dyn Fn() -> Result<bool>>,
    install: Box<dyn Fn() -> Result<()>>,
}

impl Step {
    fn new(
        name: impl Into<String>,
        takes: &'static str,
        check: impl Fn() -> Result<bool> + 'static,
        install: impl Fn() -> Result<()> + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            takes,
            check: Box::new(check),
            install: Box::new(install),
        }
    }

    /// Installs the piece unless it is present, and checks again afterwards;
    /// returns whether it installed it.
    fn ensure(&self, verbosity: Verbosity) -> Result<bool> {
        let present = (self.check)().with_context(|| format!("cannot check {}", self.name))?;
        if present {
            if verbosity == Verbosity::EveryPiece {
                report(&self.name, "already present");
            }
            return Ok(false);
        }
        report(&self.name, &format!("missing, installing ({})", self.takes));
        (self.install)().with_context(|| format!("cannot install {}", self.name))?;
        if !(self.check)()? {
            bail!("{} is still missing after installing it", self.name);
        }
        report(&self.name, "installed");
        Ok(true)
    }
}

fn report(name: &str, outcome: &str) {
    println!("setup: {name} ... {outcome}");
}

/// `~/.cargo/bin`, where rustup, cargo and bpf-linker live.
fn cargo_bin_dir() -> Result<PathBuf> {
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(cargo_home).join("bin"));
    }
    Ok(home_dir()?.join(".cargo/bin"))
}

fn home_dir() -> Result<PathBuf> {
    std::env::home_dir().context("HOME is not set")
}

/// A command for `program`, looked up with `~/.cargo/bin` first on PATH, so checks find tools
/// that `cargo install` just put there even if the caller's shell does not list that dir.
fn tool(program: &str) -> Result<Command> {
    let mut dirs = vec![cargo_bin_dir()?];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let mut cmd = Command::new(program);
    cmd.env(
        "PATH",
        std::env::join_paths(dirs).context("PATH holds an unusable entry")?,
    );
    Ok(cmd)
}

/// (a) The nightly toolchain: the eBPF crate needs `-Z build-std`.
fn nightly_toolchain() -> Step {
    Step::new(
        "nightly toolchain",
        "rustup downloads it: a minute or two",
        || {
            let list = sh::output(tool("rustup")?.args(["toolchain", "list"]))?;
            Ok(list.lines().any(|line| {
                let name = line.split_whitespace().next().unwrap_or_default();
                // `nightly-<host>`, not a dated `nightly-2025-01-01-<host>`.
                name == "nightly"
                    || name
                        .strip_prefix("nightly-")
                        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
            }))
        },
        || {
            sh::run(tool("rustup")?.args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
            ]))
        },
    )
}

/// (a) rust-src for the nightly: `build-std` compiles `core` for bpfel-unknown-none from it.
fn rust_src() -> Step {
    Step::new(
        "rust-src (nightly)",
        "rustup downloads the nightly's standard library sources: under a minute",
        || {
            let installed = sh::output(tool("rustup")?.args([
                "component",
                "list",
                "--toolchain",
                "nightly",
                "--installed",
            ]))?;
            Ok(installed
                .lines()
                .any(|line| line.trim().starts_with("rust-src")))
        },
        || {
            sh::run(tool("rustup")?.args([
                "component",
                "add",
                "rust-src",
                "--toolchain",
                "nightly",
            ]))
        },
    )
}

/// The LLVM the nightly rustc ships, which bpf-linker must link so both agree on bitcode.
struct NightlyLlvm {
    /// The major version, naming bpf-linker's `llvm-NN` feature.
    major: u32,
    /// `<sysroot>/lib/libLLVM.so.<version>-rust-<release>`.
    library: PathBuf,
}

impl NightlyLlvm {
    fn detect() -> Result<Self> {
        let version = sh::output(tool("rustc")?.args(["+nightly", "-vV"]))?;
        let major = version
            .lines()
            .find_map(|line| line.strip_prefix("LLVM version: "))
            .and_then(|v| v.trim().split('.').next()?.parse().ok())
            .context("`rustc +nightly -vV` prints no LLVM version")?;
        let sysroot = sh::output(tool("rustc")?.args(["+nightly", "--print", "sysroot"]))?;
        let lib_dir = Path::new(sysroot.trim()).join("lib");
        let mut libraries: Vec<PathBuf> = fs::read_dir(&lib_dir)
            .with_context(|| format!("cannot list {}", lib_dir.display()))?
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| {
                path.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("libLLVM.so."))
            })
            .collect();
        let library = match (libraries.pop(), libraries.is_empty()) {
            (Some(library), true) => library,
            _ => bail!("expected exactly one libLLVM.so.* in {}", lib_dir.display()),
        };
        Ok(Self { major, library })
    }

    fn file_name(&self) -> String {
        self.library
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }

    /// What the stamp records: a different major or library (new nightly) means a rebuild,
    /// since bpf-linker loads this exact library through the prefix at run time.
    fn stamp(&self) -> String {
        format!("LLVM {} ({})", self.major, self.file_name())
    }
}

/// `~/.cache/shoal`, holding the LLVM prefix bpf-linker links against and its stamp.
fn cache_dir() -> Result<PathBuf> {
    match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) => Ok(PathBuf::from(dir).join("shoal")),
        None => Ok(home_dir()?.join(".cache/shoal")),
    }
}

/// (b) bpf-linker, built against the nightly's own LLVM.
fn bpf_linker() -> Step {
    Step::new(
        "bpf-linker (nightly's LLVM)",
        "cargo install builds it against the nightly's own libLLVM: 3-6 minutes on 2 cores",
        bpf_linker_present,
        install_bpf_linker,
    )
}

fn bpf_linker_present() -> Result<bool> {
    if !sh::succeeds(tool("bpf-linker")?.arg("--version")) {
        return Ok(false);
    }
    let wanted = NightlyLlvm::detect()?.stamp();
    let stamp = cache_dir()?.join("bpf-linker.stamp");
    match fs::read_to_string(&stamp) {
        Ok(recorded) if recorded.trim() == wanted => Ok(true),
        Ok(recorded) => {
            println!(
                "setup: bpf-linker was built for {}, the nightly has {wanted}",
                recorded.trim()
            );
            Ok(false)
        }
        Err(_) => {
            println!(
                "setup: bpf-linker has no {} recording its LLVM",
                stamp.display()
            );
            Ok(false)
        }
    }
}

fn install_bpf_linker() -> Result<()> {
    let llvm = NightlyLlvm::detect()?;
    let prefix = cache_dir()?.join("llvm-prefix");
    let lib = prefix.join("lib");
    // Start clean: links to a previous nightly's library would dangle.
    if lib.exists() {
        fs::remove_dir_all(&lib).with_context(|| format!("cannot clear {}", lib.display()))?;
    }
    fs::create_dir_all(&lib).with_context(|| format!("cannot create {}", lib.display()))?;
    for name in ["libLLVM.so".to_owned(), llvm.file_name()] {
        let link = lib.join(&name);
        std::os::unix::fs::symlink(&llvm.library, &link).with_context(|| {
            format!(
                "cannot link {} to {}",
                link.display(),
                llvm.library.display()
            )
        })?;
    }
    sh::run(
        tool("cargo")?
            .env("LLVM_PREFIX", &prefix)
            .args([
                "install",
                "--force",
                "bpf-linker",
                "--no-default-features",
                "--features",
            ])
            .arg(format!("llvm-{}", llvm.major)),
    )?;
    let stamp = cache_dir()?.join("bpf-linker.stamp");
    fs::write(&stamp, llvm.stamp() + "\n")
        .with_context(|| format!("cannot write {}", stamp.display()))
}

/// (c) Debian packages, checked one by one and installed with a single apt-get run;
/// returns how many it installed.
fn debian_packages(verbosity: Verbosity) -> Result<usize> {
    let mut missing = Vec::new();
    for &package in PACKAGES {
        if package_installed(package) {
            if verbosity == Verbosity::EveryPiece {
                report(&format!("package {package}"), "already present");
            }
        } else {
            missing.push(package);
        }
    }
    if missing.is_empty() {
        return Ok(0);
    }
    for package in &missing {
        report(&format!("package {package}"), "missing");
    }
    println!(
        "setup: installing {} Debian packages with apt-get (a few minutes on a fresh machine)",
        missing.len()
    );
    install_packages(&missing).with_context(|| format!("cannot install {}", missing.join(" ")))?;
    for package in &missing {
        if !package_installed(package) {
            bail!("package {package} is still missing after apt-get install");
        }
        report(&format!("package {package}"), "installed");
    }
    Ok(missing.len())
}

fn package_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout == b"install ok installed")
}

fn install_packages(missing: &[&str]) -> Result<()> {
    if missing.contains(&"tshark") {
        preseed_tshark()?;
    }
    sh::run(Command::new("apt-get").arg("update"))?;
    sh::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(missing),
    )
}

fn preseed_tshark() -> Result<()> {
    let mut child = Command::new("debconf-set-selections")
        .stdin(Stdio::piped())
        .spawn()
        .context("cannot start debconf-set-selections")?;
    child
        .stdin
        .take()
        .context("debconf-set-selections has no stdin")?
        .write_all(TSHARK_PRESEED.as_bytes())
        .context("cannot write to debconf-set-selections")?;
    let status = child
        .wait()
        .context("cannot wait for debconf-set-selections")?;
    if !status.success() {
        bail!("debconf-set-selections failed ({status})");
    }
    Ok(())
}

/// (d) The BPF filesystem: nothing to install, but the kernel must have it.
fn bpffs() -> Step {
    let mounted = fs::read_to_string("/proc/mounts").is_ok_and(|mounts| {
        mounts
            .lines()
            .any(|line| line.split_whitespace().nth(2) == Some("bpf"))
    });
    let state = if mounted {
        "mounted"
    } else {
        "not mounted yet"
    };
    Step::new(
        format!("bpffs ({BPFFS}, {state})"),
        "nothing to install: the kernel must have it",
        || {
            let filesystems = fs::read_to_string("/proc/filesystems")?;
            let kernel_has_bpffs = filesystems
                .lines()
                .any(|line| line.trim_start_matches("nodev").trim() == "bpf");
            Ok(kernel_has_bpffs && Path::new(BPFFS).is_dir())
        },
        || {
            bail!(
                "the kernel lacks BPF ({BPFFS} missing or no bpf in /proc/filesystems); \
                 use a kernel built with CONFIG_BPF_SYSCALL"
            )
        },
    )
}
