//! Builds the eBPF programs in `dataplane-ebpf/` on the nightly toolchain and
//! leaves the object in `OUT_DIR` for `include_bytes_aligned!`. Debug builds
//! of the loader get the eBPF `debug-log` feature (aya-log); release builds
//! carry no per-packet logging at all.
use anyhow::{Context as _, anyhow};

fn main() -> anyhow::Result<()> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata")?;
    let ebpf = metadata
        .packages
        .into_iter()
        .find(|p| p.name.as_str() == "shoal-ebpf")
        .ok_or_else(|| anyhow!("the shoal-ebpf package is not in the workspace"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("no parent for {}", ebpf.manifest_path))?;
    let debug = std::env::var("PROFILE").as_deref() == Ok("debug");
    let features: &[&str] = if debug { &["debug-log"] } else { &[] };
    println!("cargo:rerun-if-changed={}", root_dir.join("common"));
    aya_build::build_ebpf(
        [aya_build::Package {
            name: ebpf.name.as_str(),
            root_dir: root_dir.as_str(),
            features,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
    .context(
        "building the eBPF programs (run `cargo xtask setup` if bpf-linker or rust-src is missing)",
    )
}
