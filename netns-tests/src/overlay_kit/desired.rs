//! Writing a node's desired state — the data plane's own
//! [`DesiredState`](shoal_dataplane::node::DesiredState) — where
//! `shoal dp apply FILE` on that node can read it.

use std::path::{Path, PathBuf};

use shoal_dataplane::node::DesiredState;

use crate::lab::Node;

/// UDP port of standard (RFC 7348) VXLAN.
pub const VXLAN_PORT: u16 = shoal_common::overlay::VXLAN_PORT;
/// Bytes VXLAN adds to every frame on an IPv4 underlay; task MTU =
/// underlay MTU − this.
pub const VXLAN_OVERHEAD: u32 = shoal_common::overlay::VXLAN_OVERHEAD;

/// Errors writing a desired-state file.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    /// The state could not be serialised.
    #[error("serialising the desired state")]
    Json(#[source] serde_json::Error),
    /// The file could not be written.
    #[error("writing {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Writes `state` as `<node state dir>/<file_name>` and returns the path, ready
/// for `node.shoal(&["dp", "apply", path])`.
pub fn write_desired_state(
    node: &Node,
    file_name: &str,
    state: &DesiredState,
) -> Result<PathBuf, DesiredError> {
    write_json(&node.state_dir().join(file_name), state)
}

fn write_json(path: &Path, state: &DesiredState) -> Result<PathBuf, DesiredError> {
    let json = serde_json::to_string_pretty(state).map_err(DesiredError::Json)?;
    std::fs::write(path, json).map_err(|source| DesiredError::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_file_dp_apply_parses_back() {
        let state: DesiredState = serde_json::from_value(serde_json::json!({
            "underlay": {"iface": "eth0"},
            "networks": [{"name": "front", "vni": 4097, "subnet": "10.10.0.0/24"}],
            "endpoints": [{"id": "t1", "netns": "shlab12c-t1", "network": "front", "ip": "10.10.0.2"}],
            "remote_endpoints": [{"network": "front", "ip": "10.10.0.3", "node": "198.18.0.12"}]
        }))
        .unwrap();
        let path = std::env::temp_dir().join(format!("shoal-desired-{}.json", std::process::id()));
        assert_eq!(write_json(&path, &state).unwrap(), path);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let back: DesiredState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
        back.validate().unwrap();
    }
}
