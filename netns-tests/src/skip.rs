//! Skipping a lab test that cannot run here, loudly and honestly.
//!
//! libtest has no run-time skip, so a test that returns early counts as
//! passed. [`require_root`] therefore says why on stderr and, when
//! `cargo xtask test` set [`SKIP_LOG_ENV`], appends the test's name to that
//! file; xtask moves every logged test from "passed" to "skipped" in its
//! closing line.

use std::io::Write as _;

/// The environment variable naming the file skipped tests are logged to.
pub const SKIP_LOG_ENV: &str = "SHOAL_TEST_SKIP_LOG";

/// Whether this process runs as root; if not, the calling test is logged as
/// skipped and should return at once:
///
/// ```no_run
/// if !shoal_netns_tests::require_root() {
///     return;
/// }
/// ```
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip("needs root (network namespaces, eBPF programs, runc)");
    false
}

/// Logs the running test as skipped for `reason`.
pub fn skip(reason: &str) {
    // libtest names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("<unnamed test>");
    eprintln!("SKIPPED {test}: {reason}");
    let Some(path) = std::env::var_os(SKIP_LOG_ENV) else {
        return;
    };
    let logged = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| writeln!(file, "{test}\t{reason}"));
    if let Err(err) = logged {
        panic!("{test} is skipped but cannot be logged to {path:?}: {err}");
    }
}
