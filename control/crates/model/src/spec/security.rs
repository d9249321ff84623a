//! A task's confinement: `--security-opt` and the pids limit.

use std::str::FromStr;

use super::{SpecError, TaskTemplate};

/// Most processes in one task unless `--limit-pids` says otherwise.
/// Docker sets no limit; one fork bomb in a task would then take its
/// node. 4096 is far above what a service's container normally runs.
pub const DEFAULT_PIDS_LIMIT: u64 = 4096;

/// A `--security-opt` value shoal supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityOpt {
    /// `seccomp=unconfined`: no seccomp filter.
    SeccompUnconfined,
    /// `seccomp=builtin`: the default profile (undoes `unconfined`).
    SeccompBuiltin,
}

impl FromStr for SecurityOpt {
    type Err = SpecError;

    /// Parses `seccomp=unconfined` or `seccomp=builtin` (also `seccomp:…`,
    /// Docker's old separator); anything else is refused, named.
    fn from_str(text: &str) -> Result<SecurityOpt, SpecError> {
        let (key, value) = text.split_once(['=', ':']).unwrap_or((text, ""));
        match (key, value) {
            ("seccomp", "unconfined") => Ok(SecurityOpt::SeccompUnconfined),
            ("seccomp", "builtin") => Ok(SecurityOpt::SeccompBuiltin),
            _ => Err(SpecError::UnsupportedSecurityOpt {
                option: text.to_owned(),
            }),
        }
    }
}

impl SecurityOpt {
    /// Sets this option on `task`.
    pub fn apply(self, task: &mut TaskTemplate) {
        task.seccomp_unconfined = self == SecurityOpt::SeccompUnconfined;
    }
}

impl TaskTemplate {
    /// The pids limit for the task's cgroup: `None` for unlimited
    /// (`--limit-pids 0`), [`DEFAULT_PIDS_LIMIT`] when none was given.
    pub fn effective_pids_limit(&self) -> Option<u64> {
        match self.pids_limit {
            None => Some(DEFAULT_PIDS_LIMIT),
            Some(0) => None,
            Some(limit) => Some(limit),
        }
    }
}
