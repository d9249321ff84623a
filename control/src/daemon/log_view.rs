//! How the records of a task's log ([`crate::runtime::log_line`]) are
//! shown by `service logs`: the text of each line with its stream, its
//! time in front with `timestamps`, and only the lines written at or after
//! `since`. A line without a time (written before the node had log shims)
//! is shown without one, and left out when `since` is asked: nobody knows
//! when it was written.

use crate::runtime::log_line::{self, Stream};

/// What `since` and `timestamps` ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LogView {
    timestamps: bool,
    /// The earliest stamp shown, in the records' own format.
    since: Option<String>,
}

/// A `since` that is not a Unix time.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogViewError {
    /// Not `SECONDS[.NANOSECONDS]`.
    #[error(
        "invalid value for since: {value:?} (seconds since the epoch, optionally with a fraction)"
    )]
    Since {
        /// What was given.
        value: String,
    },
}

/// `SECONDS[.FRACTION]` (Docker's client sends `since` so) in
/// nanoseconds.
fn unix_nanos(value: &str) -> Option<i128> {
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || !all_digits(secs) || !all_digits(frac) || frac.len() > 9 {
        return None;
    }
    let secs: i128 = secs.parse().ok()?;
    let frac: i128 = format!("{frac:0<9}").parse().ok()?;
    Some(secs * 1_000_000_000 + frac)
}

/// One line as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// Where the task wrote it.
    pub(crate) stream: Stream,
    /// Its text (its time first with `timestamps`), ended by a line end
    /// unless the line goes on in the next record.
    pub(crate) text: String,
}

impl LogView {
    /// The view of a query's `timestamps` and `since` (unset, empty or
    /// `0` is everything).
    pub(crate) fn new(timestamps: bool, since: Option<&str>) -> Result<Self, LogViewError> {
        let since = match since {
            None | Some("" | "0") => None,
            Some(value) => {
                let nanos = unix_nanos(value).ok_or_else(|| LogViewError::Since {
                    value: value.to_owned(),
                })?;
                Some(log_line::stamp(nanos))
            }
        };
        Ok(Self { timestamps, since })
    }

    /// Whether lines start with their time.
    pub(crate) fn timestamps(&self) -> bool {
        self.timestamps
    }

    /// The lines of `text` (a chunk of records) to show.
    pub(crate) fn lines(&self, text: &str) -> Vec<Line> {
        let mut out = Vec::new();
        // A record that finishes a longer line gets no time of its own.
        let mut continuing = false;
        for raw in text.lines() {
            let record = log_line::parse(raw);
            let shown = match (&self.since, record.time) {
                (None, _) => true,
                (Some(since), Some(time)) => time >= since.as_str(),
                (Some(_), None) => false,
            };
            if shown {
                let mut line = String::new();
                if let (true, false, Some(time)) = (self.timestamps, continuing, record.time) {
                    line.push_str(time);
                    line.push(' ');
                }
                line.push_str(record.text);
                if !record.partial {
                    line.push('\n');
                }
                out.push(Line {
                    stream: record.stream,
                    text: line,
                });
            }
            continuing = record.partial;
        }
        out
    }

    /// `text` as shown, all streams together.
    pub(crate) fn render(&self, text: &str) -> String {
        self.lines(text).into_iter().map(|line| line.text).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(nanos: i128, stream: Stream, partial: bool, text: &str) -> String {
        let mut out = Vec::new();
        log_line::write(
            &mut out,
            &log_line::stamp(nanos),
            stream,
            partial,
            text.as_bytes(),
        );
        String::from_utf8(out).unwrap()
    }

    const T0: i128 = 1_796_673_600_000_000_000;

    fn sample() -> String {
        [
            "written before the shim\n".to_owned(),
            record(T0, Stream::Stdout, false, "first"),
            record(T0 + 1_500_000_000, Stream::Stderr, false, "second"),
            record(T0 + 2_000_000_000, Stream::Stdout, true, "long "),
            record(T0 + 2_000_000_001, Stream::Stdout, false, "line"),
        ]
        .concat()
    }

    #[test]
    fn plain_view_shows_the_text_of_every_line_with_its_stream() {
        let view = LogView::new(false, None).unwrap();
        assert_eq!(
            view.render(&sample()),
            "written before the shim\nfirst\nsecond\nlong line\n"
        );
        let streams: Vec<Stream> = view.lines(&sample()).iter().map(|l| l.stream).collect();
        assert_eq!(
            streams,
            [
                Stream::Stdout,
                Stream::Stdout,
                Stream::Stderr,
                Stream::Stdout,
                Stream::Stdout
            ]
        );
    }

    #[test]
    fn timestamps_go_first_and_since_keeps_only_later_lines() {
        let view = LogView::new(true, Some("1796673601.5")).unwrap();
        assert_eq!(
            view.render(&sample()),
            "2026-12-07T20:00:01.500000000Z second\n\
             2026-12-07T20:00:02.000000000Z long line\n"
        );
        let view = LogView::new(true, Some("1796673601.500000001")).unwrap();
        assert_eq!(
            view.render(&sample()),
            "2026-12-07T20:00:02.000000000Z long line\n"
        );
        assert_eq!(LogView::new(false, Some("0")).unwrap(), LogView::default());
    }

    #[test]
    fn a_since_that_is_no_unix_time_is_refused() {
        for bad in ["10m", "-5", "1.2.3", "1.0123456789", ".5", "2026-12-07"] {
            assert!(LogView::new(false, Some(bad)).is_err(), "{bad}");
        }
    }
}
