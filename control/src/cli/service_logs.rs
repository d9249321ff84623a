//! `shoal service logs [-f] [-n N] [-t] [--since T] SERVICE`: every task's
//! output with Docker's `web.1.<task>@<node>    | ` prefix (after the
//! line's time with `--timestamps`); with `--follow` the daemon streams
//! new lines (one JSON object per chunk) until the user interrupts.

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
    /// Each line's time (RFC 3339, nanoseconds, UTC) first.
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Only lines written since then: a Unix time (`1700000000[.5]`), an
    /// RFC 3339 time (`2026-12-07T20:00:00Z`) or a duration ago (`10m`,
    /// `1h30m`).
    #[arg(long, value_parser = since_arg)]
    since: Option<String>,
}

/// `--since` as the Unix time (`SECONDS.NANOSECONDS`) the API takes.
fn since_arg(text: &str) -> Result<String, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    since_at(text, now)
}

/// `--since` with `now` (since the epoch) for the durations ago.
fn since_at(text: &str, now: std::time::Duration) -> Result<String, String> {
    let unix = |nanos: i128| format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000);
    if let Some((secs, frac)) = text.split_once('.').or(Some((text, "")))
        && !secs.is_empty()
        && secs.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Ok(text.to_owned());
    }
    if let Ok(time) =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        return Ok(unix(time.unix_timestamp_nanos().max(0)));
    }
    let ago = parse_span(text).map_err(|_| {
        format!("{text:?} is not a Unix time, an RFC 3339 time or a duration such as 10m")
    })?;
    let then = now.saturating_sub(ago);
    Ok(unix(i128::try_from(then.as_nanos()).unwrap_or(0)))
}

/// A duration such as `1h30m` (Go's, as Docker's `--since` takes it).
fn parse_span(text: &str) -> Result<std::time::Duration, ()> {
    let mut total = std::time::Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        let unit = rest[digits..]
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let (number, tail) = rest.split_at(digits);
        let (unit, tail) = tail.split_at(unit);
        let part: shoal_control::spec::Span = format!("{number}{unit}").parse().map_err(|_| ())?;
        if digits == 0 || unit.is_empty() {
            return Err(());
        }
        total += part.0;
        rest = tail;
    }
    if text.is_empty() { Err(()) } else { Ok(total) }
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
        // The daemon put the time first; Docker prints it before the prefix.
        let (time, text) = match line.split_once(' ') {
            Some((time, text)) if options.timestamps => (Some(time), text),
            _ => (None, line),
        };
        if let Some(time) = time {
            out += time;
            out.push(' ');
        }
        out += &prefix;
        out += text;
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
    if options.timestamps {
        query.push("timestamps=true".to_owned());
    }
    if let Some(since) = &options.since {
        query.push(format!("since={since}"));
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
    fn since_takes_unix_times_rfc3339_times_and_durations_ago() {
        let now = std::time::Duration::new(1_796_673_600, 500);
        assert_eq!(since_at("1700000000.5", now).unwrap(), "1700000000.5");
        assert_eq!(
            since_at("2026-12-07T20:00:00.25Z", now).unwrap(),
            "1796673600.250000000"
        );
        assert_eq!(since_at("1h30m", now).unwrap(), "1796668200.000000500");
        assert_eq!(since_at("90s", now).unwrap(), "1796673510.000000500");
        for bad in ["", "yesterday", "5x", "m", "1h30"] {
            assert!(since_at(bad, now).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_time_goes_before_the_prefix_with_timestamps() {
        let logs = TaskLogs {
            task_id: "abcdefghijklmnopqrstu".into(),
            name: "web.1".into(),
            node: "node-1".into(),
            text: "2026-12-07T20:00:00.000000000Z hello there\n".into(),
            error: None,
        };
        let options = LogsOptions {
            tail: None,
            follow: false,
            raw: false,
            no_trunc: false,
            timestamps: true,
            since: None,
        };
        assert_eq!(
            render(&logs, &options),
            "2026-12-07T20:00:00.000000000Z web.1.abcdefghijkl@node-1    | hello there\n"
        );
    }

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
