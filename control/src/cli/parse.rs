//! Parsers for command-line values Docker's CLI accepts: sizes (`64M`),
//! CPU counts (`0.5`), `KEY=value` pairs, `SERVICE=REPLICAS`, `--args`
//! command strings and ports given to `--publish-rm`. Durations and ports
//! come from [`shoal_control::spec`] (the daemon checks them the same way).

use std::collections::BTreeMap;

use shoal_control::spec::{
    ConfigRef, Mount, PortConfig, Protocol, SecretRef, SecurityOpt, Span, SpecError, Ulimit,
};

/// Why a command-line value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A memory size that is not `<number>[b|k|m|g|t|p][i][b]`.
    #[error("invalid size {text:?}: expected a number of bytes with an optional unit (b, k, m, g)")]
    Size {
        /// The text given.
        text: String,
    },
    /// A CPU count that is not a non-negative decimal with at most 9
    /// fractional digits.
    #[error("invalid CPU count {text:?}: expected a decimal number such as 0.5 or 2")]
    Cpus {
        /// The text given.
        text: String,
    },
    /// Something that should be `key=value`.
    #[error("invalid {what} {text:?}: expected {form}")]
    KeyValue {
        /// What it was for (`label`, `scale specifier`).
        what: &'static str,
        /// The form expected (`KEY=VALUE`, `SERVICE=REPLICAS`).
        form: &'static str,
        /// The text given.
        text: String,
    },
    /// `SERVICE=REPLICAS` with a bad count.
    #[error("invalid replicas value {text:?} in {specifier:?}: expected a non-negative number")]
    Replicas {
        /// The whole specifier.
        specifier: String,
        /// The count given.
        text: String,
    },
    /// `-e KEY` for a variable this shell does not have.
    #[error("environment variable {key:?} has no value and is not set in this shell")]
    UnsetEnv {
        /// The variable.
        key: String,
    },
    /// A quote left open in `--args`.
    #[error("unterminated quote in {text:?}")]
    Quote {
        /// The text given.
        text: String,
    },
    /// A ratio outside `[0, 1]`.
    #[error("invalid failure ratio {text:?}: expected a number between 0 and 1")]
    Ratio {
        /// The text given.
        text: String,
    },
    /// A port of `--publish-rm` that is neither `PORT[/PROTO]` nor a
    /// full port specification.
    #[error("invalid port {text:?}: expected PUBLISHED[/tcp|udp] or a --publish specification")]
    PortToRemove {
        /// The text given.
        text: String,
    },
    /// A `--network` that is neither `NAME` nor `name=NAME[,alias=A]...`.
    #[error("invalid network {text:?}: expected NAME or name=NAME[,alias=ALIAS]...")]
    Network {
        /// The text given.
        text: String,
    },
    /// The spec's own parsers (durations, ports) refused it.
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// A `--network` value: the network and the service's aliases on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFlag {
    /// The network's name.
    pub name: String,
    /// More names of the service on it.
    pub aliases: Vec<String>,
}

/// `--network front` or `--network name=front,alias=api,alias=www`
/// (Docker's long form; `target=` is a synonym of `name=`).
pub fn network(text: &str) -> Result<NetworkFlag, ParseError> {
    let bad = || ParseError::Network {
        text: text.to_owned(),
    };
    if !text.contains('=') {
        return if text.is_empty() || text.contains(',') {
            Err(bad())
        } else {
            Ok(NetworkFlag {
                name: text.to_owned(),
                aliases: Vec::new(),
            })
        };
    }
    let mut name = None;
    let mut aliases = Vec::new();
    for part in text.split(',') {
        match part.split_once('=') {
            Some(("name" | "target", value)) if !value.is_empty() && name.is_none() => {
                name = Some(value.to_owned());
            }
            Some(("alias", value)) if !value.is_empty() => aliases.push(value.to_owned()),
            _ => return Err(bad()),
        }
    }
    Ok(NetworkFlag {
        name: name.ok_or_else(bad)?,
        aliases,
    })
}

/// `--restart-delay 1m30s` and friends.
pub fn span(text: &str) -> Result<Span, ParseError> {
    Ok(text.parse::<Span>()?)
}

/// `--publish 8080:80/udp` or `published=8080,target=80,...`.
pub fn port(text: &str) -> Result<PortConfig, ParseError> {
    Ok(text.parse::<PortConfig>()?)
}

/// `--secret`: `NAME` or `source=NAME,target=PATH,uid=N,gid=N,mode=0OOO`.
pub fn secret(text: &str) -> Result<SecretRef, ParseError> {
    Ok(text.parse::<SecretRef>()?)
}

/// `--config`: `NAME` or `source=NAME,target=PATH,uid=N,gid=N,mode=0OOO`.
pub fn config(text: &str) -> Result<ConfigRef, ParseError> {
    Ok(text.parse::<ConfigRef>()?)
}

/// `--host NAME:IP` as the `/etc/hosts` line `IP NAME` (an IPv6
/// address keeps its colons: the name ends at the first one).
pub fn host_entry(text: &str) -> Result<String, ParseError> {
    let bad = || ParseError::KeyValue {
        what: "host",
        form: "NAME:IP",
        text: text.to_owned(),
    };
    let (name, ip) = text.split_once(':').ok_or_else(bad)?;
    let ip: std::net::IpAddr = ip.parse().map_err(|_| bad())?;
    if name.is_empty() {
        return Err(bad());
    }
    Ok(format!("{ip} {name}"))
}

/// `--ulimit NAME=SOFT[:HARD]`.
pub fn ulimit(text: &str) -> Result<Ulimit, ParseError> {
    Ok(text.parse::<Ulimit>()?)
}

/// `--mount`: Docker's `type=…,source=…,target=…[,readonly]…`.
pub fn mount(text: &str) -> Result<Mount, ParseError> {
    Ok(text.parse::<Mount>()?)
}

/// `--security-opt`: `seccomp=unconfined` or `seccomp=builtin`.
pub fn security_opt(text: &str) -> Result<SecurityOpt, ParseError> {
    Ok(text.parse::<SecurityOpt>()?)
}

/// Binary units, as Docker's `RAMInBytes`: `k` is 1024.
const SIZE_UNITS: [(char, u64); 5] = [
    ('k', 1 << 10),
    ('m', 1 << 20),
    ('g', 1 << 30),
    ('t', 1 << 40),
    ('p', 1 << 50),
];

/// `64M`, `1.5g`, `512KiB`, `100` (bytes).
pub fn memory_bytes(text: &str) -> Result<u64, ParseError> {
    let bad = || ParseError::Size {
        text: text.to_owned(),
    };
    let lower = text.trim().to_ascii_lowercase();
    let number_len = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, suffix) = lower.split_at(number_len);
    let suffix = suffix.trim_start();
    let mut chars = suffix.chars();
    let scale = match chars.next() {
        None => 1,
        Some(unit) => match SIZE_UNITS.iter().find(|(u, _)| *u == unit) {
            Some((_, scale)) => *scale,
            None if unit == 'b' && chars.as_str().is_empty() => 1,
            None => return Err(bad()),
        },
    };
    let rest = chars.as_str();
    if !matches!(rest, "" | "b" | "i" | "ib") || (scale == 1 && !rest.is_empty()) {
        return Err(bad());
    }
    decimal_times(number, scale).ok_or_else(bad)
}

/// `--limit-cpu 0.5` → 500 000 000 billionths of a CPU.
pub fn nano_cpus(text: &str) -> Result<u64, ParseError> {
    let (_, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 9 {
        return Err(ParseError::Cpus {
            text: text.to_owned(),
        });
    }
    decimal_times(text, 1_000_000_000).ok_or_else(|| ParseError::Cpus {
        text: text.to_owned(),
    })
}

/// `number` (digits with at most one `.`) times `scale`, truncated to a
/// whole number; `None` on bad syntax or overflow.
fn decimal_times(number: &str, scale: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    // 18 fractional digits keep the arithmetic below inside u128.
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) || fraction.len() > 18 {
        return None;
    }
    let scale = u128::from(scale);
    let mut value = whole.parse::<u128>().ok()?.checked_mul(scale)?;
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().ok()?;
        let len = u32::try_from(fraction.len()).ok()?;
        value += digits * scale / 10u128.pow(len);
    }
    u64::try_from(value).ok()
}

/// `--update-max-failure-ratio 0.2`.
pub fn ratio(text: &str) -> Result<f64, ParseError> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(ParseError::Ratio {
            text: text.to_owned(),
        }),
    }
}

/// `-e KEY=value`, or `-e KEY` to pass this shell's value of `KEY`.
pub fn env_entry(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ParseError> {
    if text.contains('=') {
        return Ok(text.to_owned());
    }
    match lookup(text) {
        Some(value) => Ok(format!("{text}={value}")),
        None => Err(ParseError::UnsetEnv {
            key: text.to_owned(),
        }),
    }
}

/// The variable name of an environment entry (`KEY` of `KEY=value`).
pub fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(key, _)| key)
}

/// `--label k=v` (repeated) into a map; a bare `k` is an empty value.
pub fn labels(texts: &[String]) -> Result<BTreeMap<String, String>, ParseError> {
    let mut labels = BTreeMap::new();
    for text in texts {
        let (key, value) = text.split_once('=').unwrap_or((text, ""));
        if key.is_empty() {
            return Err(ParseError::KeyValue {
                what: "label",
                form: "KEY=VALUE",
                text: text.clone(),
            });
        }
        labels.insert(key.to_owned(), value.to_owned());
    }
    Ok(labels)
}

/// `service scale web=5`.
pub fn scale_specifier(text: &str) -> Result<(String, u64), ParseError> {
    let Some((service, count)) = text.split_once('=').filter(|(s, _)| !s.is_empty()) else {
        return Err(ParseError::KeyValue {
            what: "scale specifier",
            form: "SERVICE=REPLICAS",
            text: text.to_owned(),
        });
    };
    let replicas = count.parse().map_err(|_| ParseError::Replicas {
        specifier: text.to_owned(),
        text: count.to_owned(),
    })?;
    Ok((service.to_owned(), replicas))
}

/// Which published ports `--publish-rm` removes: by published port (and
/// protocol when given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortToRemove {
    /// The published port.
    pub published: u16,
    /// Only this protocol, or any.
    pub protocol: Option<Protocol>,
}

impl PortToRemove {
    /// Whether `port` is one to remove.
    pub fn matches(&self, port: &PortConfig) -> bool {
        port.published == self.published && self.protocol.is_none_or(|p| p == port.protocol)
    }
}

/// `--publish-rm 8080`, `8080/udp`, `8080:80` or `published=8080,target=80`.
pub fn port_to_remove(text: &str) -> Result<PortToRemove, ParseError> {
    if text.contains(':') || text.contains('=') {
        let full = port(text)?;
        return Ok(PortToRemove {
            published: full.published,
            protocol: Some(full.protocol),
        });
    }
    let bad = || ParseError::PortToRemove {
        text: text.to_owned(),
    };
    let (number, protocol) = match text.split_once('/') {
        Some((number, "tcp")) => (number, Some(Protocol::Tcp)),
        Some((number, "udp")) => (number, Some(Protocol::Udp)),
        Some(_) => return Err(bad()),
        None => (text, None),
    };
    let published = number.parse().map_err(|_| bad())?;
    Ok(PortToRemove {
        published,
        protocol,
    })
}

/// Splits `--args "sh -c 'echo hi'"` into words as a POSIX shell would
/// (single quotes literal, double quotes with `\"` and `\\`, backslash
/// escapes outside quotes).
pub fn shell_words(text: &str) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err(unterminated(text)),
                    }
                }
            }
            '"' => double_quoted(&mut chars, word.get_or_insert_with(String::new), text)?,
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

fn double_quoted(
    chars: &mut std::str::Chars<'_>,
    word: &mut String,
    text: &str,
) -> Result<(), ParseError> {
    loop {
        match chars.next() {
            Some('"') => return Ok(()),
            Some('\\') => match chars.next() {
                Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                Some(c) => {
                    word.push('\\');
                    word.push(c);
                }
                None => return Err(unterminated(text)),
            },
            Some(c) => word.push(c),
            None => return Err(unterminated(text)),
        }
    }
}

fn unterminated(text: &str) -> ParseError {
    ParseError::Quote {
        text: text.to_owned(),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
