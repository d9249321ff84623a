//! Following a service until it converges: [`Watcher`] decides from each
//! poll (converged and stable for 2 s, paused, rolled back, given up, out
//! of time), [`Printer`] draws the frames — in place on a terminal, only
//! the changed lines otherwise — and [`watch`] polls the daemon.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use shoal_control::api::{ApiClient, ApiError, ServiceView, TaskView};
use shoal_control::spec::{Span, UpdateState, UpdateStatus};

use super::progress::{Line, assess, render};

/// How long a converged service must stay so before the view says so.
pub const STABLE_FOR: Duration = Duration::from_secs(2);
/// Time between polls.
const POLL_EVERY: Duration = Duration::from_millis(300);

/// Why the service did not converge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The update (or rollback) paused after failures.
    #[error("update paused: {message}")]
    Paused {
        /// The managers' update status message.
        message: String,
    },
    /// The managers rolled the update back.
    #[error("service rolled back: {message}")]
    RolledBack {
        /// The managers' update status message.
        message: String,
    },
    /// Tasks ended and will not be replaced.
    #[error("service cannot converge:\n{}", problems.join("\n"))]
    GaveUp {
        /// `web.1: <error>` per slot.
        problems: Vec<String>,
    },
    /// The deadline passed.
    #[error("service did not converge within {after}{}", problem_list(problems))]
    Timeout {
        /// The deadline.
        after: Span,
        /// `web.1: <error>` per slot that reports one.
        problems: Vec<String>,
    },
}

fn problem_list(problems: &[String]) -> String {
    if problems.is_empty() {
        String::new()
    } else {
        format!(":\n{}", problems.join("\n"))
    }
}

/// What one poll led to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not decided yet: poll again.
    Waiting,
    /// Converged and stable.
    Converged,
    /// It will not converge.
    Failed(WatchError),
}

/// Decides, poll after poll, whether a service converged.
#[derive(Debug, Clone)]
pub struct Watcher {
    /// `service rollback` (a rollback is then the goal, not a failure).
    expect_rollback: bool,
    /// The update status the change left (a rollback status already there
    /// before the change is old news).
    baseline: Option<UpdateStatus>,
    timeout: Span,
    /// When the service was first seen converged in the current run.
    converged_since: Option<Duration>,
}

impl Watcher {
    /// A watcher for a change that left update status `baseline`.
    pub fn new(baseline: Option<UpdateStatus>, expect_rollback: bool, timeout: Span) -> Watcher {
        Watcher {
            expect_rollback,
            baseline,
            timeout,
            converged_since: None,
        }
    }

    /// Takes one poll (`elapsed` since the change) and returns the lines
    /// to show and the outcome.
    pub fn observe(
        &mut self,
        service: &ServiceView,
        tasks: &[TaskView],
        elapsed: Duration,
    ) -> (Vec<Line>, Outcome) {
        let assessment = assess(service, tasks);
        let mut lines = render(service, &assessment);
        if let Some(failure) = self.update_failure(service) {
            return (lines, Outcome::Failed(failure));
        }
        let given_up = assessment.given_up(service);
        if !given_up.is_empty() {
            return (
                lines,
                Outcome::Failed(WatchError::GaveUp { problems: given_up }),
            );
        }
        if !assessment.converged() {
            self.converged_since = None;
            if elapsed >= self.timeout.0 {
                let problems = assessment.problems();
                let after = self.timeout;
                return (
                    lines,
                    Outcome::Failed(WatchError::Timeout { after, problems }),
                );
            }
            return (lines, Outcome::Waiting);
        }
        let since = *self.converged_since.get_or_insert(elapsed);
        let stable = elapsed.saturating_sub(since);
        if stable >= STABLE_FOR {
            lines.push(Line::new("verify", "verify: Service converged".to_owned()));
            return (lines, Outcome::Converged);
        }
        let left = (STABLE_FOR - stable).as_secs_f64().ceil() as u64;
        lines.push(Line::new(
            "verify",
            format!("verify: Waiting {left} seconds to verify that tasks are stable..."),
        ));
        (lines, Outcome::Waiting)
    }

    /// A paused update, or a rollback nobody asked for.
    fn update_failure(&self, service: &ServiceView) -> Option<WatchError> {
        let status = service.service.update_status.as_ref()?;
        let message = status.message.clone();
        match status.state {
            UpdateState::Paused | UpdateState::RollbackPaused => {
                Some(WatchError::Paused { message })
            }
            UpdateState::RollbackStarted | UpdateState::RollbackCompleted
                if !self.expect_rollback && self.baseline.as_ref() != Some(status) =>
            {
                Some(WatchError::RolledBack { message })
            }
            _ => None,
        }
    }
}

/// Draws frames: on a terminal the whole frame again in place (cursor up,
/// clear to the end); otherwise only lines whose text changed, so logs
/// stay readable.
#[derive(Debug, Default)]
pub struct Printer {
    terminal: bool,
    /// Lines of the last frame (terminal mode).
    drawn: usize,
    /// Last text printed per line key (log mode).
    printed: BTreeMap<String, String>,
}

impl Printer {
    /// A printer for a terminal (`true`) or a log.
    pub fn new(terminal: bool) -> Printer {
        Printer {
            terminal,
            ..Printer::default()
        }
    }

    /// The text that draws `lines`.
    pub fn draw(&mut self, lines: &[Line]) -> String {
        let mut out = String::new();
        if self.terminal {
            if self.drawn > 0 {
                out += &format!("\x1b[{}A\x1b[J", self.drawn);
            }
            for line in lines {
                out += &line.text;
                out.push('\n');
            }
            self.drawn = lines.len();
            return out;
        }
        for line in lines {
            if self.printed.get(&line.key) != Some(&line.text) {
                out += &line.text;
                out.push('\n');
                self.printed.insert(line.key.clone(), line.text.clone());
            }
        }
        out
    }
}

/// Whether a client error may pass (the daemon restarting, a leader
/// election): the connection failed rather than the daemon saying no.
fn is_transient(err: &ApiError) -> bool {
    matches!(err, ApiError::Connect { .. } | ApiError::Http { .. })
        || matches!(err, ApiError::Daemon { status: 503, .. })
}

/// Polls service `id` until `watcher` decides; draws progress on stdout
/// unless `quiet`.
pub async fn watch(
    client: &ApiClient,
    id: &str,
    mut watcher: Watcher,
    quiet: bool,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut printer = Printer::new(std::io::stdout().is_terminal());
    loop {
        match poll(client, id).await {
            Ok((service, tasks)) => {
                let (lines, outcome) = watcher.observe(&service, &tasks, start.elapsed());
                if !quiet {
                    let text = printer.draw(&lines);
                    let mut out = std::io::stdout().lock();
                    // Progress output is best effort: a closed pipe must not
                    // turn a converged service into a failure.
                    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
                }
                match outcome {
                    Outcome::Waiting => {}
                    Outcome::Converged => return Ok(()),
                    Outcome::Failed(err) => return Err(err.into()),
                }
            }
            Err(source) if is_transient(&source) && start.elapsed() < watcher.timeout.0 => {
                log::debug!("polling {id}: {source}");
            }
            Err(source) => {
                return Err(anyhow::Error::new(source).context("cannot follow the service"));
            }
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

async fn poll(client: &ApiClient, id: &str) -> Result<(ServiceView, Vec<TaskView>), ApiError> {
    let service: ServiceView = client.get(&format!("/services/{id}")).await?;
    let tasks: Vec<TaskView> = client.get(&format!("/tasks?service={id}")).await?;
    Ok((service, tasks))
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
