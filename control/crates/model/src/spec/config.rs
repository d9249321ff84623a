//! [`ConfigRef`]: a config given to a service's tasks, where its file
//! appears and with which owner and mode (Docker's `--config`). Unlike a
//! secret, a config may land anywhere in the task's filesystem: a relative
//! target is taken from `/` (Docker's `/NAME` default).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::SpecError;

/// Mode of a config file unless one is given (Docker's).
pub const DEFAULT_CONFIG_MODE: u32 = 0o444;

/// One config of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRef {
    /// The config's name.
    pub source: String,
    /// Absolute path of the file in the task (`/NAME` unless given).
    pub target: String,
    /// Owner of the file.
    #[serde(default)]
    pub uid: u32,
    /// Group of the file.
    #[serde(default)]
    pub gid: u32,
    /// Permission bits (at most 0777).
    #[serde(default = "default_mode")]
    pub mode: u32,
}

fn default_mode() -> u32 {
    DEFAULT_CONFIG_MODE
}

impl ConfigRef {
    /// `--config NAME`: `/NAME`, root's, mode 0444.
    pub fn named(name: &str) -> ConfigRef {
        ConfigRef {
            source: name.to_owned(),
            target: format!("/{name}"),
            uid: 0,
            gid: 0,
            mode: DEFAULT_CONFIG_MODE,
        }
    }

    /// Checks the name, the target (a clean absolute path, not `/`) and
    /// the mode.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.source.is_empty() {
            return Err(SpecError::ConfigSyntax {
                text: self.source.clone(),
                reason: "the config's name (source) is empty",
            });
        }
        if !absolute_clean(&self.target) {
            return Err(SpecError::ConfigTarget {
                target: self.target.clone(),
            });
        }
        if self.mode > 0o777 {
            return Err(SpecError::ConfigMode { mode: self.mode });
        }
        Ok(())
    }
}

/// `target` as an absolute path: a relative one is taken from `/`
/// (where Docker puts it too).
pub fn absolute_target(target: &str) -> String {
    if target.starts_with('/') {
        target.to_owned()
    } else {
        format!("/{target}")
    }
}

/// `/` followed by plain components (no `.`, `..`, `//`, no trailing `/`).
fn absolute_clean(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..")
    })
}

impl FromStr for ConfigRef {
    type Err = SpecError;

    /// Parses `NAME` or `source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0OOO]`
    /// (Docker's syntax; the mode is octal).
    fn from_str(text: &str) -> Result<ConfigRef, SpecError> {
        if !text.contains('=') {
            let config = ConfigRef::named(text);
            config.validate()?;
            return Ok(config);
        }
        let fields = super::file_ref::parse(text).map_err(|reason| SpecError::ConfigSyntax {
            text: text.to_owned(),
            reason,
        })?;
        let mut config = ConfigRef::named(&fields.source);
        config.uid = fields.uid.unwrap_or(config.uid);
        config.gid = fields.gid.unwrap_or(config.gid);
        config.mode = fields.mode.unwrap_or(config.mode);
        if let Some(target) = &fields.target {
            config.target = absolute_target(target);
        }
        config.validate()?;
        Ok(config)
    }
}
