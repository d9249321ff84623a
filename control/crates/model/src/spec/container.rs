//! [`ContainerOptions`]: how a task's container process runs beyond its
//! image and command — entrypoint, user, working directory, read-only
//! root, stop signal and grace period, capabilities, sysctls and ulimits
//! (Docker's `service create` flags of the same names). Part of the task
//! template: changing one replaces the tasks.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{Span, SpecError};

/// One `--ulimit NAME=SOFT[:HARD]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// `nofile`, `nproc`, ...
    pub name: String,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

impl std::str::FromStr for Ulimit {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Ulimit, SpecError> {
        let bad = |reason| SpecError::ContainerOption {
            option: "ulimit",
            value: text.to_owned(),
            reason,
        };
        let (name, limits) = text
            .split_once('=')
            .ok_or_else(|| bad("expected NAME=SOFT[:HARD]"))?;
        let number = |n: &str| n.parse::<u64>().map_err(|_| bad("limits are numbers"));
        let (soft, hard) = match limits.split_once(':') {
            Some((soft, hard)) => (number(soft)?, number(hard)?),
            None => (number(limits)?, number(limits)?),
        };
        if soft > hard {
            return Err(bad("the soft limit is above the hard one"));
        }
        Ok(Ulimit {
            name: name.to_owned(),
            soft,
            hard,
        })
    }
}

/// How the container process runs; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerOptions {
    /// Replaces the image's entrypoint (`--entrypoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `uid[:gid]` or names from the image (`--user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Working directory (`--workdir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Read-only root filesystem (`--read-only`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// An init (tini) as the container's PID 1 that reaps orphans and
    /// forwards signals (`--init`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    /// The signal that stops the container (`--stop-signal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Time before SIGKILL (`--stop-grace-period`, default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Span>,
    /// Capabilities added (`--cap-add`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Capabilities dropped (`--cap-drop`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// Namespaced sysctls (`--sysctl`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// rlimits (`--ulimit`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<Ulimit>,
    /// Resolvers the embedded DNS forwards this task's outside names to
    /// (`--dns`; the node's own when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_nameservers: Vec<IpAddr>,
    /// Search domains of its resolv.conf (`--dns-search`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    /// More resolv.conf options (`--dns-option`, e.g. `timeout:2`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    /// More `/etc/hosts` lines (`--host NAME:IP`): Docker's `IP NAME...`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

impl ContainerOptions {
    /// Checks what a manager can check (the node checks capability,
    /// rlimit and signal names against its kernel's).
    pub fn validate(&self) -> Result<(), SpecError> {
        let bad = |option, value: &str, reason| SpecError::ContainerOption {
            option,
            value: value.to_owned(),
            reason,
        };
        if let Some(dir) = &self.workdir
            && !dir.starts_with('/')
        {
            return Err(bad("workdir", dir, "must be an absolute path"));
        }
        if self.entrypoint.as_ref().is_some_and(Vec::is_empty) {
            return Err(bad("entrypoint", "", "must not be empty"));
        }
        if let Some(user) = &self.user
            && (user.is_empty() || user.contains(char::is_whitespace))
        {
            return Err(bad(
                "user",
                user,
                "expected user[:group] (names or numbers)",
            ));
        }
        if let Some(key) = self
            .sysctls
            .keys()
            .find(|k| k.is_empty() || k.contains(char::is_whitespace))
        {
            return Err(bad("sysctl", key, "expected KEY=VALUE"));
        }
        let word =
            |w: &str| !w.is_empty() && !w.chars().any(|c| c.is_whitespace() || c.is_control());
        if let Some(d) = self.dns_search.iter().find(|d| !super::is_dns_name(d)) {
            return Err(bad("dns-search", d, "not a DNS name"));
        }
        if let Some(o) = self.dns_options.iter().find(|o| !word(o)) {
            return Err(bad("dns-option", o, "one word, like timeout:2"));
        }
        for line in &self.hosts {
            let mut parts = line.split_whitespace();
            let ip_ok = parts.next().is_some_and(|ip| ip.parse::<IpAddr>().is_ok());
            let names: Vec<&str> = parts.collect();
            if !ip_ok
                || names.is_empty()
                || names.iter().any(|n| !super::is_dns_name(n))
                || line.contains('\n')
            {
                return Err(bad("host", line, "expected IP and host names"));
            }
        }
        if let Some(u) = self.ulimits.iter().find(|u| u.soft > u.hard) {
            return Err(bad(
                "ulimit",
                &u.name,
                "the soft limit is above the hard one",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_parse_as_docker_writes_them() {
        let u: Ulimit = "nofile=1024:2048".parse().unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        let u: Ulimit = "nproc=64".parse().unwrap();
        assert_eq!((u.soft, u.hard), (64, 64));
        assert!("nofile=2048:1024".parse::<Ulimit>().is_err());
        assert!("nofile".parse::<Ulimit>().is_err());
    }

    #[test]
    fn options_are_checked() {
        let relative = ContainerOptions {
            workdir: Some("app".into()),
            ..ContainerOptions::default()
        };
        assert!(relative.validate().is_err());
        let fine = ContainerOptions {
            workdir: Some("/app".into()),
            user: Some("node:staff".into()),
            ..ContainerOptions::default()
        };
        assert_eq!(fine.validate(), Ok(()));
    }
}
