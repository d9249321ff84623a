//! [`Span`]: a duration written the way Docker's CLI writes them (`1m30s`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::SpecError;

/// A non-negative duration, parsed from and printed as Go-style text
/// (`300ms`, `10s`, `1m30s`, `1h`); a bare `0` is zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub Duration);

impl Span {
    /// Zero.
    pub const ZERO: Span = Span(Duration::ZERO);

    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Span {
        Span(Duration::from_secs(secs))
    }

    /// `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Span {
        Span(Duration::from_millis(millis))
    }

    /// Whether this is zero (the "use the default" value in many fields).
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Whole milliseconds (saturating).
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Nanoseconds per unit, longest suffix first so `ms` wins over `m`.
const UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl FromStr for Span {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Span, SpecError> {
        let bad = || SpecError::BadDuration {
            value: text.to_owned(),
        };
        if text == "0" {
            return Ok(Span::ZERO);
        }
        if text.is_empty() || text.starts_with('-') {
            return Err(bad());
        }
        let mut rest = text;
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let (number, tail) = rest.split_at(number_len);
            let (unit, scale) = UNITS
                .iter()
                .filter(|(unit, _)| tail.starts_with(unit))
                .max_by_key(|(unit, _)| unit.len())
                .ok_or_else(bad)?;
            total += scaled(number, *scale).ok_or_else(bad)?;
            rest = &tail[unit.len()..];
        }
        let nanos = u64::try_from(total).map_err(|_| bad())?;
        Ok(Span(Duration::from_nanos(nanos)))
    }
}

/// `number` (digits with at most one `.`) times `scale` nanoseconds.
fn scaled(number: &str, scale: u64) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut value = whole.checked_mul(u128::from(scale))?;
    let mut place = u128::from(scale);
    for digit in fraction.bytes() {
        place /= 10;
        value += u128::from(digit - b'0') * place;
    }
    Some(value)
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        if !nanos.is_multiple_of(1_000_000_000) {
            return if nanos.is_multiple_of(1_000_000) {
                write!(f, "{}ms", nanos / 1_000_000)
            } else {
                write!(f, "{nanos}ns")
            };
        }
        let secs = nanos / 1_000_000_000;
        let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
        if hours > 0 {
            write!(f, "{hours}h")?;
        }
        if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        if seconds > 0 {
            write!(f, "{seconds}s")?;
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Span, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
