//! [`SecretRef`]: a secret given to a service's tasks, where it appears
//! and with which owner and mode (Docker's `--secret` long syntax).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::SpecError;

/// Where secrets appear in a task.
pub const SECRETS_DIR: &str = "/run/secrets";
/// Mode of a secret file unless one is given: readable by any user of
/// the task (the tmpfs holds only this task's secrets).
pub const DEFAULT_SECRET_MODE: u32 = 0o444;

/// One secret of a task.
///
/// Stored specs from before owners and modes hold a bare name; it still
/// decodes (as `--secret NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SecretRefRepr")]
pub struct SecretRef {
    /// The secret's name.
    pub source: String,
    /// Its path relative to `/run/secrets` (`NAME` unless given).
    pub target: String,
    /// Owner of the file.
    pub uid: u32,
    /// Group of the file.
    pub gid: u32,
    /// Permission bits (at most 0777).
    pub mode: u32,
}

/// The JSON forms a [`SecretRef`] decodes from.
#[derive(Deserialize)]
#[serde(untagged)]
enum SecretRefRepr {
    /// The old form: a name.
    Name(String),
    /// The full form.
    Full {
        source: String,
        target: String,
        #[serde(default)]
        uid: u32,
        #[serde(default)]
        gid: u32,
        #[serde(default = "default_mode")]
        mode: u32,
    },
}

fn default_mode() -> u32 {
    DEFAULT_SECRET_MODE
}

impl From<SecretRefRepr> for SecretRef {
    fn from(repr: SecretRefRepr) -> Self {
        match repr {
            SecretRefRepr::Name(name) => SecretRef::named(&name),
            SecretRefRepr::Full {
                source,
                target,
                uid,
                gid,
                mode,
            } => SecretRef {
                source,
                target,
                uid,
                gid,
                mode,
            },
        }
    }
}

impl SecretRef {
    /// `--secret NAME`: `/run/secrets/NAME`, root's, mode 0444.
    pub fn named(name: &str) -> SecretRef {
        SecretRef {
            source: name.to_owned(),
            target: name.to_owned(),
            uid: 0,
            gid: 0,
            mode: DEFAULT_SECRET_MODE,
        }
    }

    /// The file's absolute path in the task.
    pub fn path(&self) -> String {
        format!("{SECRETS_DIR}/{}", self.target)
    }

    /// Checks the name, the target (a clean path under `/run/secrets`) and
    /// the mode.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.source.is_empty() {
            return Err(SpecError::SecretSyntax {
                text: self.source.clone(),
                reason: "the secret's name (source) is empty",
            });
        }
        if !relative_clean(&self.target) {
            return Err(SpecError::SecretTarget {
                target: self.target.clone(),
            });
        }
        if self.mode > 0o777 {
            return Err(SpecError::SecretMode { mode: self.mode });
        }
        Ok(())
    }
}

/// `target` as a path relative to `/run/secrets`: a relative one as is,
/// an absolute one only below `/run/secrets`.
fn relative_target(target: &str) -> Result<String, SpecError> {
    let relative = match target.strip_prefix('/') {
        None => target,
        Some(_) => target
            .strip_prefix(SECRETS_DIR)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| SpecError::SecretTarget {
                target: target.to_owned(),
            })?,
    };
    if !relative_clean(relative) {
        return Err(SpecError::SecretTarget {
            target: target.to_owned(),
        });
    }
    Ok(relative.to_owned())
}

/// A non-empty relative path of plain components (no `.`, `..`, `//`).
fn relative_clean(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

impl FromStr for SecretRef {
    type Err = SpecError;

    /// Parses `NAME` or `source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0OOO]`
    /// (Docker's long syntax; the mode is octal).
    fn from_str(text: &str) -> Result<SecretRef, SpecError> {
        if !text.contains('=') {
            let secret = SecretRef::named(text);
            secret.validate()?;
            return Ok(secret);
        }
        let fields = super::file_ref::parse(text).map_err(|reason| SpecError::SecretSyntax {
            text: text.to_owned(),
            reason,
        })?;
        let mut secret = SecretRef::named(&fields.source);
        secret.uid = fields.uid.unwrap_or(secret.uid);
        secret.gid = fields.gid.unwrap_or(secret.gid);
        secret.mode = fields.mode.unwrap_or(secret.mode);
        if let Some(target) = &fields.target {
            secret.target = relative_target(target)?;
        }
        secret.validate()?;
        Ok(secret)
    }
}
