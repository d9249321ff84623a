//! [`Mount`]: a filesystem a service's tasks get (`--mount`, Docker's
//! syntax): a host path (`bind`), a named local volume on the task's node
//! (`volume`, created on first use, kept across the tasks that replace
//! each other on that node) or a `tmpfs`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::SpecError;

/// What a mount is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A path of the node.
    Bind,
    /// A named volume of the node.
    Volume,
    /// A tmpfs.
    Tmpfs,
}

impl MountKind {
    /// Docker's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// One mount of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// bind, volume or tmpfs.
    #[serde(rename = "type")]
    pub kind: MountKind,
    /// The node's path (bind) or the volume's name (volume); empty for tmpfs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    /// Mounted read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// A new volume stays empty instead of starting as a copy of the
    /// image's directory at the target (`volume-nocopy`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_copy: bool,
    /// tmpfs size limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_size: Option<u64>,
    /// tmpfs root permission bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_mode: Option<u32>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// `64m`, `1g`, `4096` as bytes (Docker's binary units).
fn bytes(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, shift) = match lower.chars().last()? {
        'k' => (&lower[..lower.len() - 1], 10),
        'm' => (&lower[..lower.len() - 1], 20),
        'g' => (&lower[..lower.len() - 1], 30),
        _ => (lower, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// `true`, `1` or nothing (the bare flag) is on; `false`, `0` off.
fn switch(value: Option<&str>) -> Option<bool> {
    match value {
        None | Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        _ => None,
    }
}

impl FromStr for Mount {
    type Err = SpecError;

    /// Docker's `--mount` syntax: `type=volume,source=data,target=/data`,
    /// `src`/`dst`/`destination`, `readonly`/`ro`, `volume-nocopy`,
    /// `tmpfs-size`, `tmpfs-mode`.
    fn from_str(text: &str) -> Result<Mount, SpecError> {
        let bad = |reason| SpecError::MountSyntax {
            text: text.to_owned(),
            reason,
        };
        let mut mount = Mount {
            kind: MountKind::Volume,
            source: String::new(),
            target: String::new(),
            read_only: false,
            no_copy: false,
            tmpfs_size: None,
            tmpfs_mode: None,
        };
        for field in text.split(',') {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v)),
                None => (field.trim(), None),
            };
            let value_of = || value.ok_or_else(|| bad("expected key=value"));
            match key {
                "type" => {
                    mount.kind = match value_of()? {
                        "bind" => MountKind::Bind,
                        "volume" => MountKind::Volume,
                        "tmpfs" => MountKind::Tmpfs,
                        _ => return Err(bad("type must be bind, volume or tmpfs")),
                    }
                }
                "source" | "src" => mount.source = value_of()?.to_owned(),
                "target" | "destination" | "dst" => mount.target = value_of()?.to_owned(),
                "readonly" | "ro" => {
                    mount.read_only =
                        switch(value).ok_or_else(|| bad("readonly is true or false"))?;
                }
                "volume-nocopy" => {
                    mount.no_copy =
                        switch(value).ok_or_else(|| bad("volume-nocopy is true or false"))?;
                }
                "tmpfs-size" => {
                    mount.tmpfs_size =
                        Some(bytes(value_of()?).ok_or_else(|| bad("tmpfs-size is a size"))?);
                }
                "tmpfs-mode" => {
                    let mode = u32::from_str_radix(value_of()?, 8);
                    mount.tmpfs_mode =
                        Some(mode.map_err(|_| bad("tmpfs-mode is an octal number"))?);
                }
                _ => {
                    return Err(bad(
                        "unsupported key (shoal knows type, source, target, readonly, volume-nocopy, tmpfs-size, tmpfs-mode)",
                    ));
                }
            }
        }
        mount.validate()?;
        Ok(mount)
    }
}

impl Mount {
    /// Checks what the node needs to make it: an absolute clean target,
    /// an absolute bind source, a volume name, nothing for tmpfs.
    pub fn validate(&self) -> Result<(), SpecError> {
        let invalid = |reason| SpecError::InvalidMount {
            kind: self.kind.as_str(),
            target: self.target.clone(),
            reason,
        };
        let clean = |path: &str| {
            path.strip_prefix('/').is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .split('/')
                        .all(|c| !c.is_empty() && c != "." && c != "..")
            })
        };
        if !clean(&self.target) {
            return Err(invalid(
                "the target must be an absolute path other than /, without . or ..",
            ));
        }
        match self.kind {
            MountKind::Bind if !clean(&self.source) => {
                Err(invalid("the source must be an absolute path of the node"))
            }
            MountKind::Volume if self.source.is_empty() => Err(invalid(
                "anonymous volumes are not supported: name the volume (source=NAME)",
            )),
            MountKind::Volume if !volume_name_ok(&self.source) => {
                Err(invalid("a volume name is [a-zA-Z0-9][a-zA-Z0-9_.-]*"))
            }
            MountKind::Tmpfs if !self.source.is_empty() => Err(invalid("a tmpfs has no source")),
            MountKind::Tmpfs if self.tmpfs_mode.is_some_and(|m| m > 0o7777) => {
                Err(invalid("tmpfs-mode above 7777"))
            }
            _ if self.kind != MountKind::Tmpfs
                && (self.tmpfs_size.is_some() || self.tmpfs_mode.is_some()) =>
            {
                Err(invalid("tmpfs options on a mount that is not a tmpfs"))
            }
            _ if self.kind != MountKind::Volume && self.no_copy => {
                Err(invalid("volume-nocopy on a mount that is not a volume"))
            }
            _ => Ok(()),
        }
    }
}

fn volume_name_ok(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && name.len() <= 255
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_mount_syntax_parses() {
        let m: Mount = "type=volume,src=data,dst=/var/lib/db,volume-nocopy"
            .parse()
            .unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.target.as_str(), m.no_copy),
            (MountKind::Volume, "data", "/var/lib/db", true)
        );
        let m: Mount = "type=bind,source=/srv/www,target=/www,readonly"
            .parse()
            .unwrap();
        assert!(m.read_only && m.kind == MountKind::Bind);
        let m: Mount = "type=tmpfs,target=/cache,tmpfs-size=64m,tmpfs-mode=1770"
            .parse()
            .unwrap();
        assert_eq!((m.tmpfs_size, m.tmpfs_mode), (Some(64 << 20), Some(0o1770)));
    }

    #[test]
    fn mounts_the_node_cannot_make_are_refused_with_the_reason() {
        let refused = |text: &str| text.parse::<Mount>().unwrap_err().to_string();
        assert!(
            refused("type=volume,target=/data").contains("anonymous volumes are not supported")
        );
        assert!(
            refused("type=bind,source=relative,target=/x").contains("absolute path of the node")
        );
        assert!(refused("type=tmpfs,target=/").contains("other than /"));
        assert!(refused("type=volume,source=d,target=/x/../y").contains("without . or .."));
        assert!(refused("type=nfs,target=/x").contains("type must be bind, volume or tmpfs"));
        assert!(
            refused("type=bind,source=/a,target=/b,bind-propagation=shared")
                .contains("unsupported key")
        );
        assert!(refused("type=volume,source=d,target=/x,tmpfs-size=1m").contains("not a tmpfs"));
    }
}
