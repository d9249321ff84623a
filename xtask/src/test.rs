//! `cargo xtask test`: everything CI checks, in order, failing loudly on the
//! first broken step: setup, the bootstrap guard, formatting, lints (host crates and the eBPF
//! crate), unit tests, packet fixtures and network-namespace labs.

use std::process::Command;

use anyhow::{Result, bail};

use xtask::{bootstrap, cycles, layers, setup, sh};

/// Run the whole suite.
pub fn run() -> Result<()> {
    if !is_root() {
        bail!("the fixtures and labs load eBPF programs and create namespaces: run as root");
    }
    setup::run()?;
    println!("==> bootstrap guard: xtask must compile before setup has installed anything");
    bootstrap::check(
        &workspace_root(),
        &workspace_root().join("target/bootstrap-check"),
    )?;
    println!("==> layers: every crate depends only on lower ones");
    layers::check(&workspace_root())?;
    println!("==> cycles: no module imports one that imports it back");
    cycles::check(&workspace_root())?;
    step("format", cargo(&["fmt", "--all", "--check"]))?;
    step(
        "clippy (host crates)",
        cargo(&["clippy", "--all-targets", "--", "-D", "warnings"]),
    )?;
    step("clippy (eBPF crate)", ebpf_clippy())?;
    // The labs run the real `shoal` binary inside each node's namespace.
    step(
        "build shoal",
        cargo(&["build", "--package", "shoal-control", "--bin", "shoal"]),
    )?;
    step("vagrant validate", vagrant_validate())?;
    let (totals, outcome) = tests(&workspace_root().join("target/test-skips.log"))?;
    // The plain closing line CI reads, printed whether or not tests failed:
    // every test binary's results added up.
    if outcome.is_ok() {
        println!("xtask test: all steps passed");
    }
    println!(
        "tests: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    outcome
}

/// Test counts summed over every `test result:` line.
#[derive(Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Tests listed in the skip log (one `name<TAB>reason` line each) returned
    /// early and were counted as passed by libtest: count them as skipped.
    fn move_skips(&mut self, log: &str) {
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            println!("skipped: {}", line.replace('\t', ": "));
            self.passed = self.passed.saturating_sub(1);
            self.ignored += 1;
        }
    }

    /// Add one `test result: ok. 12 passed; 0 failed; 1 ignored; ...` line.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// The environment variable lab tests log their skips to (see
/// `shoal_netns_tests::skip`; xtask cannot depend on that crate).
const SKIP_LOG_ENV: &str = "SHOAL_TEST_SKIP_LOG";

/// `cargo test --all-targets`, echoing its output and adding up the results;
/// tests that logged themselves skipped to `skip_log` count as skipped, not
/// passed. The totals come back even when a test failed (the second value).
fn tests(skip_log: &std::path::Path) -> Result<(Totals, Result<()>)> {
    use std::io::{BufRead as _, BufReader};
    match std::fs::remove_file(skip_log) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            bail!("cannot clear {}: {err}", skip_log.display())
        }
        _ => {}
    }
    // Every test binary runs even after one fails: the summary counts them all.
    let mut cmd = cargo(&["test", "--all-targets", "--no-fail-fast"]);
    cmd.env(SKIP_LOG_ENV, skip_log);
    println!("==> tests: {}", sh::describe(&cmd));
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn()?;
    let mut totals = Totals::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            totals.add_line(&line);
        }
    }
    let status = child.wait()?;
    totals.move_skips(&std::fs::read_to_string(skip_log).unwrap_or_default());
    let outcome = if status.success() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "`{}` failed ({status}); {} failed",
            sh::describe(&cmd),
            totals.failed
        ))
    };
    Ok((totals, outcome))
}

fn step(name: &str, mut cmd: Command) -> Result<()> {
    println!("==> {name}: {}", sh::describe(&cmd));
    sh::run(&mut cmd)
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(args);
    cmd
}

/// Lint the eBPF crate as it is really built: nightly, BPF target, core only.
fn ebpf_clippy() -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args([
        "run",
        "nightly",
        "cargo",
        "clippy",
        "--package",
        "shoal-ebpf",
        "--release",
        "--target",
        "bpfel-unknown-none",
        "-Z",
        "build-std=core",
        "--",
        "-D",
        "warnings",
    ]);
    // The eBPF build needs bpf_target_arch, as aya-build passes it.
    cmd.env(
        "CARGO_ENCODED_RUSTFLAGS",
        "--cfg=bpf_target_arch=\"x86_64\"",
    );
    cmd.env_remove("RUSTC")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    cmd
}

/// The workspace root (xtask's parent).
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Check the multi-VM lab's Vagrantfile (no box or provider needed).
fn vagrant_validate() -> Command {
    let root = workspace_root();
    let mut cmd = Command::new("vagrant");
    cmd.args(["validate", "--ignore-provider"])
        .current_dir(root.join("vagrant"))
        .env("SHOAL_BIN", root.join("target/debug/shoal"));
    cmd
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn result_lines_add_up() {
        let mut t = Totals::default();
        t.add_line("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.03s");
        t.add_line(
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        t.add_line("running 5 tests");
        assert_eq!((t.passed, t.failed, t.ignored), (15, 2, 1));
        t.move_skips("lb::spread\tneeds root\n\nswarm::join\tneeds root\n");
        assert_eq!((t.passed, t.failed, t.ignored), (13, 2, 3));
    }
}
