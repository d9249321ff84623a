//! The layering guard: shoal's crates form layers, and a crate may depend
//! only on crates of lower layers, so the dependency direction the
//! architecture describes (docs/architecture.md, "Crates") is enforced by
//! `cargo xtask test`, not only by Cargo's refusal of cycles.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::sh;

/// Every workspace crate with its layer; a dependency must point to a lower layer.
pub const LAYERS: &[(&str, u8)] = &[
    ("shoal-common", 0),
    ("shoal-ebpf", 1),
    ("shoal-model", 1),
    ("shoal-runtime", 1),
    ("shoal-dataplane", 1),
    ("shoal-security", 2),
    ("shoal-raft", 3),
    ("shoal-ctl", 3),
    ("shoal-manager", 4),
    ("shoal-agent", 4),
    ("shoal-control", 5),
    ("shoal-netns-tests", 6),
    ("xtask", 0),
    ("xtask-lab", 7),
];

/// One workspace-internal dependency edge: `from` depends on `to`.
#[derive(Debug, PartialEq, Eq)]
pub struct Edge {
    /// The depending crate.
    pub from: String,
    /// The crate depended on.
    pub to: String,
}

/// Checks every workspace crate's dependencies (all kinds) against [`LAYERS`].
pub fn check(root: &Path) -> Result<()> {
    let json = sh::output(Command::new(env!("CARGO")).current_dir(root).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]))?;
    let edges = workspace_edges(&json)?;
    let broken = violations(&edges)?;
    if !broken.is_empty() {
        bail!(
            "crate layering broken (a lower crate depends on a higher one or an unlisted crate; \
             see xtask/src/layers.rs): {}",
            broken.join("; ")
        );
    }
    println!(
        "layers: {} internal dependencies, all pointing down",
        edges.len()
    );
    Ok(())
}

/// The edges between workspace crates in `cargo metadata --no-deps` output.
pub fn workspace_edges(metadata_json: &str) -> Result<Vec<Edge>> {
    let meta: serde_json::Value =
        serde_json::from_str(metadata_json).context("cargo metadata printed no JSON")?;
    let packages = meta["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut edges = Vec::new();
    for package in packages {
        let from = package["name"].as_str().unwrap_or_default();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let to = dep["name"].as_str().unwrap_or_default();
            if names.contains(&to) && to != from {
                edges.push(Edge {
                    from: from.to_owned(),
                    to: to.to_owned(),
                });
            }
        }
    }
    Ok(edges)
}

/// The edges that do not point to a lower layer, described.
pub fn violations(edges: &[Edge]) -> Result<Vec<String>> {
    let layer = |name: &str| LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l);
    let mut broken = Vec::new();
    for edge in edges {
        match (layer(&edge.from), layer(&edge.to)) {
            (Some(from), Some(to)) if to < from => {}
            (Some(from), Some(to)) => broken.push(format!(
                "{} (layer {from}) depends on {} (layer {to})",
                edge.from, edge.to
            )),
            _ => broken.push(format!(
                "{} → {}: a crate missing from LAYERS",
                edge.from, edge.to
            )),
        }
    }
    Ok(broken)
}

#[cfg(test)]
mod tests {
    use super::{Edge, violations};

    fn edge(from: &str, to: &str) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn downward_edges_pass() {
        let edges = [
            edge("shoal-control", "shoal-manager"),
            edge("shoal-manager", "shoal-raft"),
            edge("shoal-raft", "shoal-security"),
        ];
        assert!(violations(&edges).unwrap().is_empty());
    }

    #[test]
    fn an_upward_or_sideways_edge_or_an_unlisted_crate_is_caught() {
        let edges = [
            edge("shoal-model", "shoal-control"),
            edge("shoal-agent", "shoal-manager"),
            edge("shoal-new", "shoal-model"),
        ];
        let broken = violations(&edges).unwrap();
        assert_eq!(broken.len(), 3, "{broken:?}");
        assert!(broken[0].contains("shoal-model (layer 1) depends on shoal-control"));
    }
}
