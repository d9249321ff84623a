//! How this node may reach registries: which ones are insecure (plain
//! http allowed, Docker's `--insecure-registry`), which extra CAs the
//! operator trusts for a registry (Docker's `certs.d/<registry>/ca.crt`
//! layout), and the credentials `shoal login` stored on the node.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Debian's bundle of the system's trusted CAs (`ca-certificates`).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Why registry access settings could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// An `--insecure-registry` value that is neither `host[:port]` nor a CIDR.
    #[error("insecure registry {value:?}: give host[:port] or an IP network (10.0.0.0/8)")]
    BadInsecureEntry {
        /// The value given.
        value: String,
    },
    /// The credentials file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The credentials file is not what shoal writes.
    #[error("credentials file {path} is corrupt: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

/// One entry of the insecure list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum InsecureEntry {
    /// `host` or `host:port`, matched exactly (`host` matches any port).
    Host(String),
    /// An IP network: registries at an address inside it.
    Network(IpAddr, u8),
}

/// Registries spoken to over plain http when they do not speak TLS, and
/// allowed to redirect to http. `localhost` and loopback addresses are
/// always in it, as in Docker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsecureRegistries {
    entries: Vec<InsecureEntry>,
    loopback: bool,
}

impl Default for InsecureRegistries {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            loopback: true,
        }
    }
}

impl InsecureRegistries {
    /// No registry insecure, not even loopback (tests of the refusal).
    pub fn none() -> Self {
        Self {
            entries: Vec::new(),
            loopback: false,
        }
    }

    /// The defaults plus `values` (`host[:port]` or `addr/prefix`).
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Self, AccessError> {
        let mut insecure = Self::default();
        for value in values {
            let value = value.as_ref().trim();
            let bad = || AccessError::BadInsecureEntry {
                value: value.to_owned(),
            };
            let entry = match value.split_once('/') {
                Some((addr, prefix)) => {
                    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
                    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
                    let max = if addr.is_ipv4() { 32 } else { 128 };
                    if prefix > max {
                        return Err(bad());
                    }
                    InsecureEntry::Network(addr, prefix)
                }
                None if !value.is_empty() && !value.contains(char::is_whitespace) => {
                    InsecureEntry::Host(value.to_owned())
                }
                None => return Err(bad()),
            };
            insecure.entries.push(entry);
        }
        Ok(insecure)
    }

    /// Whether `registry` (`host[:port]`) is insecure.
    pub fn contains(&self, registry: &str) -> bool {
        let host = host_of(registry);
        let ip = host.parse::<IpAddr>().ok();
        if self.loopback && (host == "localhost" || ip.is_some_and(|ip| ip.is_loopback())) {
            return true;
        }
        self.entries.iter().any(|entry| match entry {
            InsecureEntry::Host(name) => name == registry || name == host,
            InsecureEntry::Network(net, prefix) => {
                ip.is_some_and(|ip| in_network(ip, *net, *prefix))
            }
        })
    }
}

/// The host of `host[:port]` (IPv6 brackets removed).
pub(crate) fn host_of(registry: &str) -> &str {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(':') => {
            host
        }
        _ => registry,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// A registry login.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or access token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Everything a pull needs to reach a registry.
#[derive(Debug, Clone)]
pub struct RegistryAccess {
    /// Registries allowed plain http.
    pub insecure: InsecureRegistries,
    /// Docker's `certs.d` layout: every `<dir>/<registry>/*.crt` is a CA
    /// trusted for that registry, besides the system's.
    pub certs_dir: Option<PathBuf>,
    /// The system's CA bundle (PEM); a missing file trusts none.
    pub system_roots: PathBuf,
    /// The login for the registry pulled from, if any.
    pub credentials: Option<Credentials>,
}

impl Default for RegistryAccess {
    fn default() -> Self {
        Self {
            insecure: InsecureRegistries::default(),
            certs_dir: None,
            system_roots: PathBuf::from(SYSTEM_CA_BUNDLE),
            credentials: None,
        }
    }
}

/// The node's registry logins: a JSON file only root can read (0600),
/// `{"auths": {"<registry>": {"username": ..., "password": ...}}}`.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    path: PathBuf,
}

#[derive(Default, Serialize, Deserialize)]
struct CredentialFile {
    auths: BTreeMap<String, Credentials>,
}

impl CredentialStore {
    /// The store kept in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The login for `registry`, if one was stored.
    pub fn get(&self, registry: &str) -> Result<Option<Credentials>, AccessError> {
        Ok(self.read()?.auths.remove(registry))
    }

    /// Stores (or replaces) the login for `registry`.
    pub fn set(&self, registry: &str, credentials: Credentials) -> Result<(), AccessError> {
        let mut file = self.read()?;
        file.auths.insert(registry.to_owned(), credentials);
        self.write(&file)
    }

    /// Forgets the login for `registry`; whether there was one.
    pub fn remove(&self, registry: &str) -> Result<bool, AccessError> {
        let mut file = self.read()?;
        let had = file.auths.remove(registry).is_some();
        if had {
            self.write(&file)?;
        }
        Ok(had)
    }

    fn read(&self) -> Result<CredentialFile, AccessError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| AccessError::Corrupt {
                path: self.path.clone(),
                source,
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(CredentialFile::default()),
            Err(source) => Err(io_err("read", &self.path, source)),
        }
    }

    /// Replaces the file atomically; the new file is 0600 from its
    /// creation, so the passwords are never readable by others.
    fn write(&self, file: &CredentialFile) -> Result<(), AccessError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_err("create", dir, e))?;
        }
        let tmp = self.path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let bytes = serde_json::to_vec_pretty(file).unwrap_or_default();
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io_err("create", &tmp, e))?;
        out.write_all(&bytes)
            .and_then(|()| out.sync_all())
            .map_err(|e| io_err("write", &tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| io_err("rename", &self.path, e))
    }
}

fn io_err(action: &'static str, path: &Path, source: std::io::Error) -> AccessError {
    AccessError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}
