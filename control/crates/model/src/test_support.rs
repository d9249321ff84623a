//! Helpers the control crates' async tests share (feature `test-support`).

use std::time::Duration;

/// Generous limit for anything a test waits for; never a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `check` until it gives a value, panicking after [`PATIENCE`].
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
