//! Container health checks, Docker's way: a command run in the container
//! every `interval`; the first success makes a starting task running;
//! `retries` failures in a row (after the start period) make it unhealthy.

use std::time::{Duration, Instant};

use shoal_model::spec::HealthCheck;

/// Docker's defaults for fields left at 0.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;

/// A health check ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HealthPolicy {
    /// The command, as `runc exec` takes it.
    pub(crate) argv: Vec<String>,
    /// Time between checks.
    pub(crate) interval: Duration,
    /// Time one check may take.
    pub(crate) timeout: Duration,
    /// Failures in a row that make the container unhealthy.
    pub(crate) retries: u32,
    /// Grace period after start in which failures don't count.
    pub(crate) start_period: Duration,
}

/// The policy of a task's health check; `None` when it has none
/// (`["NONE"]`, or a test that is not `CMD`/`CMD-SHELL`).
pub(crate) fn policy(check: Option<&HealthCheck>) -> Option<HealthPolicy> {
    let check = check?;
    let argv = match check.cmd.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            vec!["/bin/sh".to_owned(), "-c".to_owned(), rest.join(" ")]
        }
        _ => return None,
    };
    let or = |span: shoal_model::spec::Span, default| {
        if span.is_zero() { default } else { span.0 }
    };
    Some(HealthPolicy {
        argv,
        interval: or(check.interval, DEFAULT_INTERVAL),
        timeout: or(check.timeout, DEFAULT_TIMEOUT),
        retries: if check.retries == 0 {
            DEFAULT_RETRIES
        } else {
            check.retries
        },
        start_period: check.start_period.0,
    })
}

/// What the checks found so far for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HealthState {
    /// A check has passed since the container started.
    pub(crate) healthy_seen: bool,
    /// Failures in a row that count.
    failures: u32,
    /// When the container was found running.
    started: Instant,
    /// When the next check is due.
    next_check: Instant,
}

/// The outcome of recording a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Healthy now.
    Healthy,
    /// Failing, not yet unhealthy.
    Failing,
    /// `retries` failures in a row: stop the container.
    Unhealthy,
}

impl HealthState {
    /// Checks of a container found running at `now`; `healthy_seen` when
    /// it was already reported running (adopted after a restart).
    pub(crate) fn new(policy: &HealthPolicy, now: Instant, healthy_seen: bool) -> Self {
        HealthState {
            healthy_seen,
            failures: 0,
            started: now,
            next_check: now + policy.interval,
        }
    }

    /// Whether a check is due.
    pub(crate) fn due(&self, now: Instant) -> bool {
        now >= self.next_check
    }

    /// Records a check that ended at `now`.
    pub(crate) fn record(&mut self, policy: &HealthPolicy, passed: bool, now: Instant) -> Verdict {
        self.next_check = now + policy.interval;
        if passed {
            self.healthy_seen = true;
            self.failures = 0;
            return Verdict::Healthy;
        }
        if now.duration_since(self.started) < policy.start_period {
            return Verdict::Failing;
        }
        self.failures += 1;
        if self.failures >= policy.retries {
            Verdict::Unhealthy
        } else {
            Verdict::Failing
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use shoal_model::spec::Span;

    fn check(cmd: &[&str]) -> HealthCheck {
        HealthCheck {
            cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
            interval: Span::from_secs(1),
            retries: 2,
            start_period: Span::from_secs(10),
            ..HealthCheck::default()
        }
    }

    #[test]
    fn commands_run_as_docker_runs_them() {
        let p = policy(Some(&check(&["CMD", "test", "-f", "/ok"]))).unwrap();
        assert_eq!(p.argv, ["test", "-f", "/ok"]);
        assert_eq!(p.timeout, DEFAULT_TIMEOUT);
        let p = policy(Some(&check(&["CMD-SHELL", "curl -f localhost || exit 1"]))).unwrap();
        assert_eq!(p.argv, ["/bin/sh", "-c", "curl -f localhost || exit 1"]);
        assert_eq!(policy(Some(&check(&["NONE"]))), None);
        assert_eq!(policy(None), None);
    }

    #[test]
    fn failures_in_the_start_period_do_not_count_and_retries_make_it_unhealthy() {
        let p = policy(Some(&check(&["CMD", "true"]))).unwrap();
        let t0 = Instant::now();
        let mut h = HealthState::new(&p, t0, false);
        assert!(!h.due(t0));
        assert!(h.due(t0 + Duration::from_secs(1)));
        for _ in 0..5 {
            assert_eq!(
                h.record(&p, false, t0 + Duration::from_secs(1)),
                Verdict::Failing
            );
        }
        let later = t0 + Duration::from_secs(11);
        assert_eq!(h.record(&p, true, later), Verdict::Healthy);
        assert!(h.healthy_seen);
        assert_eq!(h.record(&p, false, later), Verdict::Failing);
        assert_eq!(h.record(&p, false, later), Verdict::Unhealthy);
    }
}
