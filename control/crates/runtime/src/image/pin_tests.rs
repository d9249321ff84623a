//! Pinned references and removals: a spec's `name:tag@sha256:...` finds
//! exactly that manifest whatever the tag names now; `remove` and
//! `remove_images` take an image and only the blobs and layers no other
//! image holds, never one in use.

use std::collections::BTreeSet;
use std::path::Path;

use super::*;

/// Loads a busybox image named `name` whose `/marker` holds `marker`;
/// its manifest digest.
fn load(store: &ImageStore, dir: &Path, name: &str, marker: &str) -> Digest {
    let archive = dir.join(format!("{marker}.tar"));
    let file = ExtraFile::new("/marker", marker);
    ImageBuilder::busybox(name, &[file], &["cat", "/marker"])
        .unwrap()
        .write_oci_archive(&archive)
        .unwrap();
    store.load(&archive).unwrap()[0].manifest.clone()
}

fn count(store: &ImageStore, dir: &str) -> usize {
    std::fs::read_dir(store.root().join(dir)).unwrap().count()
}

#[test]
fn a_pinned_reference_finds_its_digest_even_after_the_tag_moved() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let old = load(&store, dir.path(), "reg.example:5000/app:1", "old");
    let pinned = format!("reg.example:5000/app:1@{old}");
    assert_eq!(store.resolve(&pinned).unwrap().manifest, old);

    let new = load(&store, dir.path(), "reg.example:5000/app:1", "new");
    assert_ne!(old, new);
    assert_eq!(
        store.resolve("reg.example:5000/app:1").unwrap().manifest,
        new
    );
    assert_eq!(
        store.resolve(&pinned).unwrap().manifest,
        old,
        "the pin wins over the tag"
    );
    let unknown = format!("reg.example:5000/app:1@{}", Digest::of(b"other"));
    assert!(matches!(
        store.resolve(&unknown),
        Err(ImageError::NotFound { .. })
    ));
}

#[test]
fn a_pinned_reference_pulls_its_digest() {
    let digest = Digest::of(b"m");
    let parsed = Reference::parse(&format!("reg.example:5000/team/app:1@{digest}")).unwrap();
    assert_eq!(parsed.registry, "reg.example:5000");
    assert_eq!(parsed.repository, "team/app");
    assert_eq!(parsed.target, Target::Digest(digest.clone()));
    assert_eq!(
        parsed.local_name(),
        None,
        "stored untagged, as a digest pull"
    );
    assert!(Reference::parse(&format!("reg.example:5000/app:1/x@{digest}")).is_err());
}

#[test]
fn remove_takes_only_what_no_other_image_holds_and_never_an_image_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let a = load(&store, dir.path(), "app:a", "a");
    let b = load(&store, dir.path(), "app:b", "b");
    let layers = count(&store, "layers");
    assert_eq!(layers, 3, "busybox layer shared, one marker layer each");

    let in_use = BTreeSet::from([a.clone()]);
    assert!(matches!(
        store.remove("app:a", &in_use),
        Err(ImageError::InUse { .. })
    ));
    let removed = store.remove("app:b", &in_use).unwrap();
    assert_eq!(removed.deleted, [b]);
    assert_eq!(removed.untagged, ["app:b"]);
    assert!(removed.reclaimed > 0);
    assert_eq!(count(&store, "layers"), 2, "the shared layer stays");
    assert_eq!(
        store.resolve("app:a").unwrap().manifest,
        a,
        "a still resolves"
    );
    assert!(store.resolve("app:b").is_err());
}

#[test]
fn prune_removes_untagged_images_or_with_all_every_unused_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("state")).unwrap();
    let old = load(&store, dir.path(), "app:1", "old");
    let new = load(&store, dir.path(), "app:1", "new");
    let other = load(&store, dir.path(), "other:1", "other");
    let none = BTreeSet::new();
    let dangling = prunable(&store.list().unwrap(), &none, false);
    assert_eq!(dangling, [old], "only the image the tag left");
    store.remove_images(&dangling, &none).unwrap();
    let in_use = BTreeSet::from([new.clone()]);
    let all = prunable(&store.list().unwrap(), &in_use, true);
    assert_eq!(all, [other]);
    store.remove_images(&all, &in_use).unwrap();
    let left: Vec<_> = store
        .list()
        .unwrap()
        .into_iter()
        .map(|i| i.manifest)
        .collect();
    assert_eq!(left, [new]);
    assert_eq!(count(&store, "layers"), 2);
    assert_eq!(
        count(&store, "blobs/sha256"),
        4,
        "manifest, config, two layers"
    );
}
