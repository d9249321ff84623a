//! Volumes, tmpfs and bind mounts on real runc (as root, on the harness
//! of [`super::tests`]): a named volume keeps a container's data for the
//! next one, a new volume starts as a copy of the image's directory
//! (unless `no_copy`), read-only mounts refuse writes, tmpfs has its size,
//! a missing bind source is named, and a volume in use stays.

use super::tests::Lab;
use super::*;

fn volume(name: &str, target: &str, read_only: bool, no_copy: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        target: target.to_owned(),
        read_only,
        no_copy,
    }
}

#[test]
fn a_volume_outlives_its_container_and_starts_as_the_images_directory() {
    let lab = Lab::new("vol");
    let data = format!("{}-data", std::process::id());
    let mut writer = lab.spec("w", &["sh", "-c", "echo kept > /data/f; ls /www"]);
    writer.volumes = vec![
        volume(&data, "/data", false, false),
        volume(&format!("{data}-www"), "/www", false, false),
    ];
    lab.runtime.run(&writer).unwrap();
    assert_eq!(
        lab.wait_exit(&writer.id).code,
        0,
        "{}",
        lab.logs(&writer.id)
    );
    assert_eq!(
        lab.logs(&writer.id),
        "index.html\n",
        "copied from the image"
    );
    let in_use = lab.runtime.remove_volume(&data).unwrap_err();
    assert!(in_use.to_string().contains("volume is in use"), "{in_use}");
    lab.delete_and_check(&writer.id);

    let script = "cat /data/f; (echo x > /data/g) 2>/dev/null || echo read-only; ls /empty | wc -l";
    let mut reader = lab.spec("r", &["sh", "-c", script]);
    reader.volumes = vec![
        volume(&data, "/data", true, false),
        volume(&format!("{data}-nocopy"), "/empty", false, true),
    ];
    // `/empty` does not exist in the image: created, and nothing copied.
    lab.runtime.run(&reader).unwrap();
    assert_eq!(
        lab.wait_exit(&reader.id).code,
        0,
        "{}",
        lab.logs(&reader.id)
    );
    assert_eq!(lab.logs(&reader.id), "kept\nread-only\n0\n");
    lab.delete_and_check(&reader.id);
    for name in [
        data.clone(),
        format!("{data}-www"),
        format!("{data}-nocopy"),
    ] {
        lab.runtime.remove_volume(&name).unwrap();
    }
    assert!(lab.runtime.volumes().list().unwrap().is_empty());
}

#[test]
fn tmpfs_has_its_size_and_a_missing_bind_source_is_named() {
    let lab = Lab::new("tmpfs");
    let mut spec = lab.spec("t", &["sh", "-c", "grep ' /scratch ' /proc/mounts"]);
    spec.tmpfs = vec![TmpfsMount {
        target: "/scratch".into(),
        size_bytes: Some(1 << 20),
        mode: Some(0o700),
        read_only: false,
    }];
    lab.runtime.run(&spec).unwrap();
    assert_eq!(lab.wait_exit(&spec.id).code, 0, "{}", lab.logs(&spec.id));
    let line = lab.logs(&spec.id);
    assert!(
        line.starts_with("tmpfs /scratch tmpfs rw")
            && line.contains("size=1024k")
            && line.contains("mode=700"),
        "{line}"
    );
    lab.delete_and_check(&spec.id);

    let mut bind = lab.spec("b", &["true"]);
    bind.mounts = vec![BindMount {
        source: "/nonexistent-shoal-source".into(),
        target: "/x".into(),
        read_only: true,
    }];
    let err = lab.runtime.run(&bind).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent-shoal-source"
    );
    assert!(
        !lab.runtime.bundle(&bind.id).exists(),
        "nothing left behind"
    );
}
