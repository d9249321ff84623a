//! Docker's human-readable forms: "7 minutes ago", "4.26MB", 12-character
//! IDs, `Running`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shoal_control::spec::Timestamp;

/// IDs in tables are cut to this many characters (Docker's `TruncateID`).
pub const SHORT_ID_LEN: usize = 12;

/// The first [`SHORT_ID_LEN`] characters of `id`, or all of it with
/// `no_trunc`.
pub fn short_id(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        return id;
    }
    id.char_indices()
        .nth(SHORT_ID_LEN)
        .map_or(id, |(end, _)| &id[..end])
}

/// Now, in milliseconds since the epoch (the unit of task timestamps).
pub fn now() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp(millis)
}

/// `7 minutes ago` for `then` seen at `now`; a time in the future (clock
/// skew between nodes) reads as just now.
pub fn ago(now: Timestamp, then: Timestamp) -> String {
    let elapsed = Duration::from_millis(now.0.saturating_sub(then.0));
    format!("{} ago", human_duration(elapsed).to_lowercase())
}

/// [`ago`] for a time in whole seconds since the epoch (records' `created_at`).
pub fn ago_secs(now: Timestamp, then_secs: u64) -> String {
    ago(now, Timestamp(then_secs.saturating_mul(1000)))
}

/// Docker's `HumanDuration`: `Less than a second`, `About a minute`,
/// `3 hours`, `2 weeks`, ...
pub fn human_duration(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    let minutes = seconds / 60;
    // Docker rounds hours to the nearest one.
    let hours = (elapsed.as_secs_f64() / 3600.0).round() as u64;
    match () {
        () if seconds < 1 => "Less than a second".to_owned(),
        () if seconds == 1 => "1 second".to_owned(),
        () if seconds < 60 => format!("{seconds} seconds"),
        () if minutes == 1 => "About a minute".to_owned(),
        () if minutes < 60 => format!("{minutes} minutes"),
        () if hours == 1 => "About an hour".to_owned(),
        () if hours < 48 => format!("{hours} hours"),
        () if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        () if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        () if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        () => format!("{} years", seconds / 3600 / 24 / 365),
    }
}

/// Docker's image sizes: decimal units, three significant digits
/// (`123B`, `1kB`, `4.26MB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = match value {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", UNITS[unit])
}

/// Capitalised like Docker's columns (`running` → `Running`).
pub fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        let cases = [
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (7 * 60 + 5, "7 minutes"),
            (3600, "About an hour"),
            (5 * 3600, "5 hours"),
            (3 * 86_400, "3 days"),
            (20 * 86_400, "2 weeks"),
            (90 * 86_400, "3 months"),
            (800 * 86_400, "2 years"),
        ];
        for (secs, text) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), text, "{secs}s");
        }
    }

    #[test]
    fn ago_is_lower_case_and_tolerates_skew() {
        let now = Timestamp(10_000_000);
        assert_eq!(
            ago(now, Timestamp(10_000_000 - 7 * 60_000)),
            "7 minutes ago"
        );
        assert_eq!(
            ago(now, Timestamp(10_000_000 - 60_000)),
            "about a minute ago"
        );
        assert_eq!(ago(now, Timestamp(20_000_000)), "less than a second ago");
        assert_eq!(ago_secs(now, 9_990), "10 seconds ago");
    }

    #[test]
    fn sizes_and_ids() {
        assert_eq!(human_size(123), "123B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(12_340_000), "12.3MB");
        assert_eq!(human_size(2_500_000_000), "2.5GB");
        assert_eq!(short_id("abcdefghijklmnop", false), "abcdefghijkl");
        assert_eq!(short_id("abcdefghijklmnop", true), "abcdefghijklmnop");
        assert_eq!(short_id("abc", false), "abc");
        assert_eq!(title("running"), "Running");
    }
}
