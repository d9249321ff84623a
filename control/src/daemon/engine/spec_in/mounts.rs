//! `TaskTemplate.ContainerSpec.Mounts` of a Docker spec as shoal's
//! [`Mount`]s (and back, for `spec_out`). Consistency is accepted and means
//! nothing (as on Docker for Linux); volume labels (a stack sets its
//! namespace there) are accepted and not kept; a volume driver other than
//! `local`, driver options and bind propagation other than the default
//! are refused by path.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use shoal_model::spec::{Mount, MountKind};

use super::{Rest, SpecInError, refuse_rest};

const PATH: &str = "TaskTemplate.ContainerSpec.Mounts";

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct DockerMount {
    #[serde(rename = "Type")]
    kind: String,
    source: String,
    target: String,
    read_only: bool,
    consistency: String,
    bind_options: Option<DockerBindOptions>,
    volume_options: Option<DockerVolumeOptions>,
    tmpfs_options: Option<DockerTmpfsOptions>,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerBindOptions {
    propagation: String,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerVolumeOptions {
    no_copy: bool,
    labels: Option<BTreeMap<String, String>>,
    driver_config: Option<DockerDriver>,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerDriver {
    name: String,
    options: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerTmpfsOptions {
    size_bytes: i64,
    mode: u32,
    #[serde(flatten)]
    rest: Rest,
}

fn unsupported(field: &str) -> SpecInError {
    SpecInError::Unsupported {
        field: format!("{PATH}.{field}"),
    }
}

/// One Docker mount as shoal's.
pub(super) fn mount(m: DockerMount) -> Result<Mount, SpecInError> {
    refuse_rest(PATH, &m.rest)?;
    let kind = match m.kind.as_str() {
        "bind" => MountKind::Bind,
        "volume" | "" => MountKind::Volume,
        "tmpfs" => MountKind::Tmpfs,
        other => {
            return Err(SpecInError::BadValue {
                field: "TaskTemplate.ContainerSpec.Mounts.Type",
                value: other.to_owned(),
            });
        }
    };
    let _ = m.consistency;
    if let Some(bind) = m.bind_options {
        refuse_rest(&format!("{PATH}.BindOptions"), &bind.rest)?;
        if !matches!(bind.propagation.as_str(), "" | "rprivate") {
            return Err(unsupported("BindOptions.Propagation"));
        }
    }
    let mut no_copy = false;
    if let Some(volume) = m.volume_options {
        refuse_rest(&format!("{PATH}.VolumeOptions"), &volume.rest)?;
        let _ = volume.labels;
        if let Some(driver) = volume.driver_config {
            if !matches!(driver.name.as_str(), "" | "local") {
                return Err(unsupported("VolumeOptions.DriverConfig.Name"));
            }
            if driver.options.is_some_and(|o| !o.is_empty()) {
                return Err(unsupported("VolumeOptions.DriverConfig.Options"));
            }
        }
        no_copy = volume.no_copy;
    }
    let (mut tmpfs_size, mut tmpfs_mode) = (None, None);
    if let Some(tmpfs) = m.tmpfs_options {
        refuse_rest(&format!("{PATH}.TmpfsOptions"), &tmpfs.rest)?;
        tmpfs_size = u64::try_from(tmpfs.size_bytes).ok().filter(|n| *n > 0);
        tmpfs_mode = Some(tmpfs.mode & 0o7777).filter(|m| *m != 0);
    }
    let mount = Mount {
        kind,
        source: m.source,
        target: m.target,
        read_only: m.read_only,
        no_copy,
        tmpfs_size,
        tmpfs_mode,
    };
    mount.validate().map_err(|err| SpecInError::Malformed {
        reason: err.to_string(),
    })?;
    Ok(mount)
}

/// shoal's mount in Docker's shape.
pub(crate) fn docker_mount(m: &Mount) -> Value {
    let mut out = json!({
        "Type": m.kind.as_str(),
        "Source": m.source,
        "Target": m.target,
        "ReadOnly": m.read_only,
    });
    match m.kind {
        MountKind::Volume => out["VolumeOptions"] = json!({"NoCopy": m.no_copy}),
        MountKind::Tmpfs => {
            out["TmpfsOptions"] = json!({
                "SizeBytes": m.tmpfs_size.unwrap_or(0),
                "Mode": m.tmpfs_mode.unwrap_or(0),
            });
        }
        MountKind::Bind => {}
    }
    out
}
