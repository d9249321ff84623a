//! Image store tests on real archives built with [`ImageBuilder`].

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use super::build::write_tar;
use super::*;

fn busybox(name: &str) -> ImageBuilder {
    let page = ExtraFile::new("/www/index.html", "hello from shoal\n");
    ImageBuilder::busybox(name, &[page], &["sh", "-c", "echo hi"]).unwrap()
}

/// Every path under the store (except the staging area) with its size.
fn snapshot(store: &ImageStore) -> Vec<(PathBuf, u64)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            let rel = entry.path().strip_prefix(root).unwrap().to_owned();
            if rel.starts_with("tmp") {
                continue;
            }
            out.push((rel, meta.len()));
            if meta.is_dir() {
                walk(root, &entry.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(store.root(), store.root(), &mut out);
    out.sort();
    out
}

fn assert_tmp_empty(store: &ImageStore) {
    let left: Vec<_> = fs::read_dir(store.root().join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "staging left behind: {left:?}");
}

#[test]
fn oci_archive_loads_lists_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("busybox.tar");
    let id = busybox("shoal/busybox:1")
        .write_oci_archive(&archive)
        .unwrap();
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let loaded = store.load(&archive).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(
        loaded[0].name.as_ref().unwrap().to_string(),
        "shoal/busybox:1"
    );
    assert_eq!(loaded[0].id, id);

    let rows = store.list().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].repository.as_str(), rows[0].tag.as_str()),
        ("shoal/busybox", "1")
    );
    assert_eq!(rows[0].id, id);
    assert!(
        rows[0].size > 500_000,
        "busybox is compressed to ~1MB: {}",
        rows[0].size
    );
    assert!(rows[0].human_size().ends_with("kB") || rows[0].human_size().ends_with("MB"));

    let image = store.resolve("shoal/busybox:1").unwrap();
    assert_eq!(image.id, id);
    assert_eq!(image.layers.len(), 2);
    assert!(image.layers[0].join("bin/busybox").is_file());
    assert_eq!(
        fs::read_link(image.layers[0].join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let page = fs::read_to_string(image.layers[1].join("www/index.html")).unwrap();
    assert_eq!(page, "hello from shoal\n");
    assert_eq!(image.config.config.cmd.as_deref().unwrap()[0], "sh");
    // By full id, short id prefix and manifest digest too.
    assert_eq!(
        store.resolve(&id.to_string()).unwrap().manifest,
        image.manifest
    );
    assert_eq!(store.resolve(id.short()).unwrap().manifest, image.manifest);
    assert_eq!(store.resolve(&image.manifest.to_string()).unwrap().id, id);
    assert!(matches!(
        store.resolve("shoal/busybox:2"),
        Err(ImageError::NotFound { .. })
    ));
    assert_tmp_empty(&store);
}

#[test]
fn layers_are_unpacked_once_and_reload_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("busybox.tar");
    busybox("app").write_oci_archive(&archive).unwrap();
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    store.load(&archive).unwrap();
    let image = store.resolve("app").unwrap();
    let marker = image.layers[0].join("marker");
    fs::write(&marker, "unpacked once").unwrap();
    let before = snapshot(&store);
    store.load(&archive).unwrap();
    assert_eq!(snapshot(&store), before, "a second load changes nothing");
    assert!(
        marker.exists(),
        "existing layer directory kept, not re-unpacked"
    );
    // A second name for the same image shares blobs and layers.
    let other = dir.path().join("other.tar");
    busybox("app:v2").write_oci_archive(&other).unwrap();
    store.load(&other).unwrap();
    let rows = store.list().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].id, rows[1].id);
    assert!(marker.exists());
}

#[test]
fn docker_save_tarball_loads_with_the_same_image_id() {
    let dir = tempfile::tempdir().unwrap();
    let oci = dir.path().join("oci.tar");
    let docker = dir.path().join("docker.tar");
    let id = busybox("web:latest").write_oci_archive(&oci).unwrap();
    assert_eq!(
        busybox("web:latest").write_docker_archive(&docker).unwrap(),
        id
    );
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let loaded = store.load(&docker).unwrap();
    assert_eq!(loaded[0].id, id);
    let image = store.resolve("web").unwrap();
    assert!(image.layers[0].join("bin/busybox").is_file());
    assert!(image.layers[1].join("www/index.html").is_file());
    // The OCI archive of the same image adds its own (gzip) layer blobs
    // under the same image id.
    store.load(&oci).unwrap();
    assert_eq!(store.resolve("web").unwrap().id, id);
}

/// Loads `entries` as an archive into a store holding one good image and
/// checks the error and that the store did not change.
fn rejected(entries: &[(String, Vec<u8>)]) -> ImageError {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.tar");
    busybox("good").write_oci_archive(&good).unwrap();
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    store.load(&good).unwrap();
    let before = snapshot(&store);
    let bad = dir.path().join("bad.tar");
    write_tar(&bad, entries).unwrap();
    let err = store.load(&bad).unwrap_err();
    assert_eq!(
        snapshot(&store),
        before,
        "rejected load changed the store: {err}"
    );
    assert_tmp_empty(&store);
    err
}

fn oci_entries(name: &str) -> Vec<(String, Vec<u8>)> {
    busybox(name).oci_entries().unwrap()
}

#[test]
fn corrupt_blob_is_rejected() {
    let mut entries = oci_entries("bad");
    let layer = entries
        .iter_mut()
        .find(|(n, _)| n.starts_with("blobs/"))
        .unwrap();
    let last = layer.1.len() - 1;
    layer.1[last] ^= 0xff;
    let err = rejected(&entries);
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
}

#[test]
fn missing_blob_is_rejected() {
    let mut entries = oci_entries("bad");
    entries.remove(0); // the first layer blob
    let err = rejected(&entries);
    assert!(matches!(err, ImageError::MissingBlob { .. }), "{err}");
}

#[test]
fn truncated_archive_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.tar");
    busybox("good").write_oci_archive(&good).unwrap();
    let bytes = fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.tar");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let err = store.load(&truncated).unwrap_err();
    assert!(matches!(err, ImageError::Archive { .. }), "{err}");
    assert!(store.list().unwrap().is_empty());
    assert_tmp_empty(&store);
}

#[test]
fn not_an_archive_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let junk = dir.path().join("junk.tar");
    write_tar(&junk, &[("hello.txt".to_owned(), b"hi".to_vec())]).unwrap();
    assert!(matches!(
        store.load(&junk),
        Err(ImageError::UnknownFormat { .. })
    ));
}

fn hostile_layer(build: impl FnOnce(&mut LayerBuilder)) -> Vec<(String, Vec<u8>)> {
    let mut layer = LayerBuilder::new();
    build(&mut layer);
    let image = ImageBuilder::new("evil")
        .unwrap()
        .layer(layer.finish().unwrap());
    image.oci_entries().unwrap()
}

#[test]
fn layer_path_traversal_is_rejected() {
    let entries = hostile_layer(|l| l.raw_file("../../escaped", b"x").unwrap());
    let err = rejected(&entries);
    assert!(matches!(err, ImageError::UnsafePath { .. }), "{err}");
}

#[test]
fn layer_symlink_escape_is_rejected() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().to_str().unwrap().to_owned();
    let entries = hostile_layer(|l| {
        l.symlink("evil", &target).unwrap();
        l.raw_file("evil/pwned", b"x").unwrap();
    });
    let err = rejected(&entries);
    assert!(matches!(err, ImageError::UnsafePath { .. }), "{err}");
    assert!(!outside.path().join("pwned").exists());
    let entries = hostile_layer(|l| {
        l.symlink("evil", &target).unwrap();
        l.raw_file("evil/.wh.victim", b"").unwrap();
    });
    assert!(matches!(rejected(&entries), ImageError::UnsafePath { .. }));
}

#[test]
fn archive_path_traversal_is_rejected() {
    let mut entries = oci_entries("bad");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tar");
    write_tar(&bad, &entries).unwrap();
    // Rename an entry to climb out by patching the tar header in place.
    let mut bytes = fs::read(&bad).unwrap();
    let at = bytes.windows(10).position(|w| w == b"oci-layout").unwrap();
    bytes[at..at + 10].copy_from_slice(b"../oci-lay");
    let sum: u32 = {
        let header = &mut bytes[at..at + 512];
        header[148..156].fill(b' ');
        header.iter().map(|b| u32::from(*b)).sum()
    };
    bytes[at + 148..at + 156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    fs::write(&bad, &bytes).unwrap();
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let err = store.load(&bad).unwrap_err();
    assert!(matches!(err, ImageError::UnsafePath { .. }), "{err}");
    entries.clear();
}

#[test]
fn docker_save_with_tampered_files_is_rejected() {
    let mut entries = busybox("bad").docker_entries().unwrap();
    let config = entries
        .iter_mut()
        .find(|(n, _)| n.ends_with(".json") && n.len() == 69)
        .unwrap();
    config.1.push(b' ');
    assert!(matches!(
        rejected(&entries),
        ImageError::DigestMismatch { .. }
    ));

    let mut entries = busybox("bad").docker_entries().unwrap();
    let layer = entries
        .iter_mut()
        .find(|(n, _)| n.ends_with("layer.tar"))
        .unwrap();
    let mut tampered = LayerBuilder::new();
    tampered.file("bin/busybox", b"not busybox", 0o755).unwrap();
    layer.1 = tampered.finish().unwrap();
    assert!(matches!(
        rejected(&entries),
        ImageError::DiffIdMismatch { .. }
    ));
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let mut layer = LayerBuilder::new();
    layer.file("etc/.wh.gone", b"", 0o644).unwrap();
    layer.file("var/cache/.wh..wh..opq", b"", 0o644).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("wh.tar");
    ImageBuilder::new("wh")
        .unwrap()
        .layer(layer.finish().unwrap())
        .write_oci_archive(&archive)
        .unwrap();
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    store.load(&archive).unwrap();
    let layer = &store.resolve("wh").unwrap().layers[0];
    let gone = fs::symlink_metadata(layer.join("etc/gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert!(!layer.join("etc/.wh.gone").exists());
    let opaque = std::process::Command::new("getfattr")
        .args(["-n", "trusted.overlay.opaque", "--only-values"])
        .arg(layer.join("var/cache"))
        .output()
        .expect("getfattr (Debian's attr package, installed by cargo xtask setup)");
    assert_eq!(
        opaque.stdout,
        b"y",
        "{}",
        String::from_utf8_lossy(&opaque.stderr)
    );
}

#[test]
fn image_names_parse_like_docker() {
    let n = ImageName::parse("busybox").unwrap();
    assert_eq!(
        (n.repository.as_str(), n.tag.as_str()),
        ("busybox", "latest")
    );
    let n = ImageName::parse("registry:5000/team/app:v1.2").unwrap();
    assert_eq!(
        (n.repository.as_str(), n.tag.as_str()),
        ("registry:5000/team/app", "v1.2")
    );
    let n = ImageName::parse("registry:5000/app").unwrap();
    assert_eq!(
        (n.repository.as_str(), n.tag.as_str()),
        ("registry:5000/app", "latest")
    );
    assert!(ImageName::parse("app@sha256:00").is_err());
    assert!(ImageName::parse("bad name").is_err());
    assert!(ImageName::parse("app:").is_err());
}

#[test]
fn digests_parse_strictly() {
    let d = Digest::of(b"");
    assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
    assert!(Digest::parse("sha512:00").is_err());
    assert!(Digest::parse(&d.to_string().to_uppercase()).is_err());
    assert_eq!(d.short().len(), 12);
}
