//! `ImageStore::pull` against a real OCI distribution registry: Debian's
//! `docker-registry` on a loopback port, fed by a small push client
//! written here. Checks that a pulled image is listed, resolves and runs,
//! that a second pull downloads nothing, and that a missing tag or a
//! tampered blob is refused with the store left as it was. Needs root
//! (runc) and `/usr/bin/docker-registry` (`cargo xtask setup` installs it).
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed step should stop the test where it happened"
)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use shoal_runtime::image::{
    BuiltBlobs, Digest, ExtraFile, ImageBuilder, ImageError, ImageStore, RegistryError,
};
use shoal_runtime::{ContainerSpec, Runtime, RuntimeConfig};
use support::Registry;

fn busybox(name: &str, marker: &str) -> BuiltBlobs {
    let file = ExtraFile::new("/marker", marker);
    ImageBuilder::busybox(name, &[file], &["sh", "-c", "cat /marker"])
        .unwrap()
        .oci_blobs()
        .unwrap()
}

/// Every file under the store's blob and layer directories, and its names.
fn store_state(store: &ImageStore) -> (Vec<PathBuf>, usize) {
    let mut files: Vec<_> = ["blobs/sha256", "layers"]
        .iter()
        .flat_map(|d| std::fs::read_dir(store.root().join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    (files, store.list().unwrap().len())
}

/// Runs a container of `image` and returns its output.
fn run_output(runtime: &Runtime, image: &str) -> String {
    let id = format!("pull-{}", std::process::id());
    let spec = ContainerSpec {
        id: id.clone(),
        image: image.to_owned(),
        ..ContainerSpec::default()
    };
    runtime.run(&spec).unwrap();
    let exit = runtime.wait(&id, Duration::from_secs(20)).unwrap();
    let logs = String::from_utf8(runtime.logs(&id).unwrap()).unwrap();
    runtime.delete(&id).unwrap();
    assert_eq!(exit.map(|e| e.code), Some(0), "{logs}");
    logs
}

#[test]
fn pull_from_a_loopback_registry() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(dir.path());
    let runtime = Runtime::open(RuntimeConfig::new(&dir.path().join("state"))).unwrap();
    let store = runtime.images();
    let blobs = busybox("app", "pulled\n");
    registry.push("shoal/app", "1", &blobs);
    let reference = format!("{}/shoal/app:1", registry.host());

    let pulled = store.pull(&reference).unwrap();
    assert_eq!(pulled.image.manifest, Digest::of(&blobs.manifest));
    assert_eq!(pulled.image.id, Digest::of(&blobs.config));
    assert_eq!(pulled.fetched.len(), 3, "config and two layers");
    assert!(!pulled.up_to_date);
    let rows = store.list().unwrap();
    let rows: Vec<_> = rows
        .iter()
        .map(|r| (r.repository.as_str(), r.tag.as_str()))
        .collect();
    assert_eq!(
        rows,
        [(format!("{}/shoal/app", registry.host()).as_str(), "1")]
    );
    assert_eq!(store.resolve(&reference).unwrap().id, pulled.image.id);
    assert_eq!(run_output(&runtime, &reference), "pulled\n");

    let again = store.pull(&reference).unwrap();
    assert!(
        again.fetched.is_empty(),
        "blobs are present: {:?}",
        again.fetched
    );
    assert!(again.up_to_date);
    assert_eq!(again.image, pulled.image);

    let before = store_state(store);
    let missing = format!("{}/shoal/app:nope", registry.host());
    let err = store.pull(&missing).unwrap_err();
    assert!(
        matches!(
            &err,
            ImageError::Registry {
                source: RegistryError::ManifestUnknown { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("manifest unknown"), "{err}");
    assert_eq!(store_state(store), before);
}

#[test]
fn a_tampered_blob_is_refused_and_nothing_is_added() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(dir.path());
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let blobs = busybox("bad", "tampered\n");
    registry.push("shoal/bad", "1", &blobs);
    // Same length, different bytes: only the digest can tell.
    let layer = Digest::of(&blobs.layers[1]);
    let file = registry.blob_file(&layer);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();

    let before = store_state(&store);
    let err = store
        .pull(&format!("{}/shoal/bad:1", registry.host()))
        .unwrap_err();
    assert!(
        matches!(&err, ImageError::DigestMismatch { expected, .. } if *expected == layer),
        "{err}"
    );
    assert_eq!(store_state(&store), before);
    let tmp = std::fs::read_dir(store.root().join("tmp")).unwrap().count();
    assert_eq!(tmp, 0, "a staging directory was left behind");
}

#[test]
fn an_interrupted_pull_resumes_without_fetching_finished_blobs_again() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(dir.path());
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let blobs = busybox("resume", "resumed\n");
    registry.push("shoal/resume", "1", &blobs);
    let config = Digest::of(&blobs.config);
    // The last layer is corrupt in the registry: the pull fails after the
    // config (always fetched first) came in verified.
    let layer = Digest::of(&blobs.layers[1]);
    let file = registry.blob_file(&layer);
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    bad[0] ^= 0xff;
    std::fs::write(&file, &bad).unwrap();
    let reference = format!("{}/shoal/resume:1", registry.host());
    assert!(store.pull(&reference).is_err());
    assert!(store.list().unwrap().is_empty());

    std::fs::write(&file, &good).unwrap();
    let pulled = store.pull(&reference).unwrap();
    assert!(
        !pulled.fetched.contains(&config),
        "the config finished before the failure and is not fetched again: {:?}",
        pulled.fetched
    );
    assert!(pulled.fetched.contains(&layer), "{:?}", pulled.fetched);
    assert_eq!(pulled.image.id, config);
    let left = std::fs::read_dir(store.root().join("downloads"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "installed blobs leave downloads/");
}

#[test]
fn an_index_resolves_to_this_platform_and_a_digest_pull_is_untagged() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(dir.path());
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let blobs = busybox("multi", "multi\n");
    registry.push("shoal/multi", "amd64", &blobs);
    let manifest = Digest::of(&blobs.manifest);
    let entry = |arch: &str| {
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest.to_string(),
            "size": blobs.manifest.len(),
            "platform": {"architecture": arch, "os": "linux"},
        })
    };
    let native = if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "amd64"
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry("s390x"), entry(native)],
    });
    let index = serde_json::to_vec(&index).unwrap();
    let index_type = "application/vnd.oci.image.index.v1+json";
    registry.push_manifest("shoal/multi", "latest", index_type, &index);

    let pulled = store
        .pull(&format!("{}/shoal/multi", registry.host()))
        .unwrap();
    assert_eq!(pulled.image.manifest, manifest);
    assert_eq!(
        pulled.image.name.unwrap().to_string(),
        format!("{}/shoal/multi:latest", registry.host())
    );

    let by_digest = format!("{}/shoal/multi@{manifest}", registry.host());
    let pulled = store.pull(&by_digest).unwrap();
    assert!(pulled.image.name.is_none());
    assert!(pulled.fetched.is_empty());
    assert!(pulled.up_to_date);
    let wrong = format!("{}/shoal/multi@{}", registry.host(), Digest::of(b"other"));
    let err = store.pull(&wrong).unwrap_err();
    assert!(err.to_string().contains("manifest unknown"), "{err}");
}
