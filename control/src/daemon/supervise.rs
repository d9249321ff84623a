//! Supervision of an active node's background components (the heartbeat
//! loop, the renewer, the agent, and on managers the liveness monitor, the
//! key keeper and the manager loop). A component that panics is restarted
//! after a pause; one that keeps failing (more than [`MAX_FAILURES`] in
//! [`FAILURE_WINDOW`]) makes the daemon exit non-zero, so its service
//! manager restarts it whole: a node never goes on serving with a dead
//! component and stale state. A component that returns has finished (its
//! input closed as the node stops) and is not restarted.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::core::Active;

/// Pause before a failed component is started again.
pub const RESTART_PAUSE: Duration = Duration::from_secs(1);
/// Failures within [`FAILURE_WINDOW`] after which the daemon gives up.
pub const MAX_FAILURES: usize = 5;
/// The window [`MAX_FAILURES`] is counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// The daemon's exit code when a component keeps failing (EX_SOFTWARE).
pub const EXIT_COMPONENT_FAILED: i32 = 70;

/// Runs `start()` as the component `name` of `active`, restarted on failure
/// and stopped with the node.
pub(crate) fn supervise<F, Fut>(active: &Arc<Active>, name: &'static str, start: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handle = tokio::spawn(supervisor(name, start, RESTART_PAUSE, exit_daemon));
    active.track(handle.abort_handle());
}

/// The supervision loop; `give_up` runs when the component keeps failing.
async fn supervisor<F, Fut>(
    name: &'static str,
    start: F,
    pause: Duration,
    give_up: impl FnOnce(&'static str),
) where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut failures: VecDeque<Instant> = VecDeque::new();
    loop {
        // Aborting the supervisor (the node stops) aborts the component too.
        let mut run = AbortOnDrop(tokio::spawn(start()));
        match (&mut run.0).await {
            Ok(()) => {
                log::debug!("{name} finished");
                return;
            }
            Err(err) if err.is_panic() => log::error!("{name} failed: {err}"),
            Err(_) => return,
        }
        let now = Instant::now();
        failures.push_back(now);
        while failures
            .front()
            .is_some_and(|at| now.duration_since(*at) > FAILURE_WINDOW)
        {
            failures.pop_front();
        }
        if failures.len() > MAX_FAILURES {
            give_up(name);
            return;
        }
        log::warn!("restarting {name} in {pause:?}");
        tokio::time::sleep(pause).await;
    }
}

/// Ends the daemon: a component keeps failing.
fn exit_daemon(name: &'static str) {
    log::error!(
        "{name} failed more than {MAX_FAILURES} times in {FAILURE_WINDOW:?}: exiting so the node restarts whole"
    );
    std::process::exit(EXIT_COMPONENT_FAILED);
}

/// A spawned task that is aborted when this handle is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::{MAX_FAILURES, supervisor};

    #[tokio::test]
    async fn a_panicking_component_is_restarted_until_it_runs() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let gave_up = Arc::new(AtomicUsize::new(0));
        let noted = gave_up.clone();
        supervisor(
            "flaky",
            move || {
                let runs = counted.clone();
                async move {
                    if runs.fetch_add(1, Ordering::SeqCst) < 2 {
                        panic!("boom");
                    }
                }
            },
            Duration::ZERO,
            move |_| {
                noted.fetch_add(1, Ordering::SeqCst);
            },
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "two failures, then a run");
        assert_eq!(gave_up.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_component_that_keeps_failing_gives_up_instead_of_serving_on() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let gave_up = Arc::new(std::sync::Mutex::new(None));
        let noted = gave_up.clone();
        supervisor(
            "broken",
            move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { panic!("always") }
            },
            Duration::ZERO,
            move |name| {
                *noted.lock().expect("lock") = Some(name);
            },
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), MAX_FAILURES + 1);
        assert_eq!(*gave_up.lock().expect("lock"), Some("broken"));
    }

    #[tokio::test]
    async fn a_component_that_returns_is_not_restarted() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        supervisor(
            "done",
            move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async {}
            },
            Duration::ZERO,
            |_| panic!("no give-up for a finished component"),
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
