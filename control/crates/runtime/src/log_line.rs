//! The line format of a container's log when a log shim
//! ([`crate::log_shim`]) writes it — CRI's: `<time> <stream> <F|P> <text>`,
//! one record per line. `<time>` is RFC 3339 in UTC with exactly nine
//! fraction digits (`2026-12-07T20:00:00.123456789Z`, Docker's
//! RFC3339NanoFixed), so stamps compare as strings in time order: `--since`
//! is a string comparison. `P` marks the part of a line longer than
//! [`MAX_RECORD`] that goes on in the next record of the same stream.
//! A line that does not parse (written by runc straight into the file, as
//! before the shim existed) reads as stdout text with no time.

use std::fmt::Write as _;

/// Bytes of one line kept in one record; a longer line is split.
pub const MAX_RECORD: usize = 16 * 1024;

/// Which of the container's outputs a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// The word in the record.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One record of the log, borrowed from its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// When the shim read it; `None` for a line without a stamp.
    pub time: Option<&'a str>,
    /// Where it was written.
    pub stream: Stream,
    /// The line goes on in the next record.
    pub partial: bool,
    /// The text, without the line end.
    pub text: &'a str,
}

/// The stamp of a Unix time in nanoseconds (fixed width, UTC).
pub fn stamp(unix_nanos: i128) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(unix_nanos) else {
        return "0000-01-01T00:00:00.000000000Z".to_owned();
    };
    let mut out = String::with_capacity(30);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    );
    out
}

/// The stamp of now.
pub fn stamp_now() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
    stamp(nanos)
}

/// Appends one record (`text` without its line end) to `out`.
pub fn write(out: &mut Vec<u8>, time: &str, stream: Stream, partial: bool, text: &[u8]) {
    out.extend_from_slice(time.as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.name().as_bytes());
    out.extend_from_slice(if partial { b" P " } else { b" F " });
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// Whether `s` is a stamp as [`stamp`] writes them.
fn is_stamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 30
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            29 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// The record of one line (without its line end).
pub fn parse(line: &str) -> Record<'_> {
    let plain = Record {
        time: None,
        stream: Stream::Stdout,
        partial: false,
        text: line,
    };
    let mut parts = line.splitn(4, ' ');
    let (Some(time), Some(stream), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return plain;
    };
    let stream = match stream {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return plain,
    };
    let partial = match tag {
        "F" => false,
        "P" => true,
        _ => return plain,
    };
    if !is_stamp(time) {
        return plain;
    }
    Record {
        time: Some(time),
        stream,
        partial,
        text: parts.next().unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_fixed_width_utc_and_sort_in_time_order() {
        assert_eq!(stamp(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            stamp(1_796_673_600_123_456_789),
            "2026-12-07T20:00:00.123456789Z"
        );
        let (a, b) = (
            stamp(1_000_000_000_900_000_000),
            stamp(1_000_000_001_000_000_000),
        );
        assert!(a < b, "{a} before {b}");
    }

    #[test]
    fn a_written_record_reads_back_and_a_plain_line_is_stdout_without_time() {
        let mut out = Vec::new();
        let time = stamp(1_796_673_600_000_000_001);
        write(&mut out, &time, Stream::Stderr, false, b"oops: it  broke");
        write(&mut out, &time, Stream::Stdout, true, b"");
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        let first = parse(lines.next().unwrap());
        assert_eq!(first.time, Some(time.as_str()));
        assert_eq!((first.stream, first.partial), (Stream::Stderr, false));
        assert_eq!(first.text, "oops: it  broke");
        let second = parse(lines.next().unwrap());
        assert_eq!(
            (second.stream, second.partial, second.text),
            (Stream::Stdout, true, "")
        );
        for plain in ["hello world", "2026-12-07 stdout F x", "x stdout F y", ""] {
            let record = parse(plain);
            assert_eq!((record.time, record.text), (None, plain), "{plain:?}");
        }
    }
}
