//! `shoal service logs [-f] [-n N] SERVICE`: every task's output with
//! Docker's `web.1.<task>@<node>    | ` prefix; with `--follow` the
//! daemon streams new lines (one JSON object per chunk) until the user
//! interrupts.

use std::io::Write as _;

use anyhow::Context as _;
use clap::Args;
use http_body_util::BodyExt as _;
use shoal_control::api::{ApiClient, TaskLogs};

use super::api_conn::path_segment;
use super::humanize::short_id;

/// `service logs` options.
#[derive(Debug, Args)]
pub struct LogsOptions {
    /// Lines from the end of each task's output.
    #[arg(short = 'n', long)]
    tail: Option<u64>,
    /// Keep streaming new lines as the tasks write them (until Ctrl-C).
    #[arg(short = 'f', long)]
    follow: bool,
    /// Without the `web.1.<task>@<node> |` prefix.
    #[arg(long)]
    raw: bool,
    /// Full task IDs in the prefix.
    #[arg(long)]
    no_trunc: bool,
}

/// `web.1.abcdefghijkl@node-1    | ` before every line, as Docker.
pub fn log_prefix(logs: &TaskLogs, no_trunc: bool) -> String {
    format!(
        "{}.{}@{}    | ",
        logs.name,
        short_id(&logs.task_id, no_trunc),
        logs.node
    )
}

/// The lines of `logs` as printed (errors go to stderr).
fn render(logs: &TaskLogs, options: &LogsOptions) -> String {
    if let Some(err) = &logs.error {
        eprintln!(
            "error from {}.{}: {err}",
            logs.name,
            short_id(&logs.task_id, options.no_trunc)
        );
        return String::new();
    }
    let prefix = match options.raw {
        true => String::new(),
        false => log_prefix(logs, options.no_trunc),
    };
    let mut out = String::new();
    for line in logs.text.lines() {
        out += &prefix;
        out += line;
        out.push('\n');
    }
    out
}

/// Runs `service logs`.
pub async fn logs(client: &ApiClient, service: &str, options: &LogsOptions) -> anyhow::Result<()> {
    let mut query = Vec::new();
    if let Some(tail) = options.tail {
        query.push(format!("tail={tail}"));
    }
    if options.follow {
        query.push("follow=true".to_owned());
    }
    let mut path = format!("/services/{}/logs", path_segment(service));
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    if options.follow {
        return follow(client, &path, options).await;
    }
    let mut all: Vec<TaskLogs> = client.get(&path).await.context("cannot fetch the logs")?;
    all.sort_by(|a, b| a.name.cmp(&b.name).then(a.task_id.cmp(&b.task_id)));
    let out: String = all.iter().map(|logs| render(logs, options)).collect();
    print!("{out}");
    Ok(())
}

/// Prints the streamed chunks as they come: one JSON [`TaskLogs`] per line.
async fn follow(client: &ApiClient, path: &str, options: &LogsOptions) -> anyhow::Result<()> {
    let mut body = client
        .get_stream(path)
        .await
        .context("cannot follow the logs")?;
    let mut pending = Vec::new();
    let mut stdout = std::io::stdout();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("the log stream broke")?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let logs: TaskLogs =
                serde_json::from_slice(&line).context("the daemon sent an unreadable chunk")?;
            stdout.write_all(render(&logs, options).as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_prefixed_like_docker() {
        let logs = TaskLogs {
            task_id: "abcdefghijklmnopqrstu".into(),
            name: "web.1".into(),
            node: "node-1".into(),
            text: "hello\n".into(),
            error: None,
        };
        assert_eq!(log_prefix(&logs, false), "web.1.abcdefghijkl@node-1    | ");
        assert_eq!(
            log_prefix(&logs, true),
            "web.1.abcdefghijklmnopqrstu@node-1    | "
        );
    }
}
