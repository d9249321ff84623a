//! `cargo xtask deb`: shoal as a Debian package, built with `dpkg-deb` from
//! the files in `control/packaging/` — `/usr/bin/shoal`, the two systemd
//! units (the data plane loaded before the daemon; the daemon `Type=notify`),
//! `/etc/default/shoal` (a conffile: an upgrade keeps the node's settings),
//! and the maintainer scripts (an upgrade reloads the data plane in place
//! and restarts the daemon; its containers stay).

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result};

use crate::sh;

/// What the package is made of, relative to the repository.
const PACKAGING: &str = "control/packaging";

/// `(source in PACKAGING, path in the package, mode)`.
const FILES: [(&str, &str, u32); 5] = [
    ("shoal.service", "lib/systemd/system/shoal.service", 0o644),
    (
        "shoal-dataplane.service",
        "lib/systemd/system/shoal-dataplane.service",
        0o644,
    ),
    ("default", "etc/default/shoal", 0o644),
    ("postinst", "DEBIAN/postinst", 0o755),
    ("prerm", "DEBIAN/prerm", 0o755),
];

/// The package's control file.
fn control(version: &str, installed_kib: u64) -> String {
    format!(
        "Package: shoal\n\
         Version: {version}\n\
         Architecture: amd64\n\
         Maintainer: shoal developers <shoal@localhost>\n\
         Installed-Size: {installed_kib}\n\
         Depends: runc, iproute2, ethtool\n\
         Section: admin\n\
         Priority: optional\n\
         Description: container cluster networking with an eBPF data plane\n \
         shoal turns Linux hosts into one swarm that runs containers: raft-replicated\n \
         control plane, services, overlay networks, a routing mesh, all in eBPF.\n"
    )
}

/// `cargo build --release` of the `shoal` binary, run from `root`, with
/// the variables `cargo run` set for the calling xtask removed: build
/// scripts (ring's) watch `CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, …, so
/// a release build started from `cargo xtask` would otherwise rebuild them
/// and everything above them (about ten minutes on 2 cores) whenever it
/// was last built from a shell or another xtask.
pub fn release_build(root: &Path, cargo: &str) -> Command {
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args([
        "build",
        "--release",
        "--package",
        "shoal-control",
        "--bin",
        "shoal",
    ]);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let from_cargo_run = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| key.starts_with(prefix))
            || key == "CARGO_PRIMARY_PACKAGE";
        if from_cargo_run {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// Builds `shoal_<version>_amd64.deb` in `out` from the `shoal` binary at
/// `binary`; returns its path.
pub fn build(root: &Path, binary: &Path, version: &str, out: &Path) -> Result<PathBuf> {
    let stage = out.join(format!("shoal_{version}_amd64"));
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("cannot clear {}", stage.display()))?;
    }
    let place = |from: &Path, to: &str, mode: u32| -> Result<()> {
        let dest = stage.join(to);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        fs::copy(from, &dest).with_context(|| format!("cannot copy {}", from.display()))?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot chmod {}", dest.display()))
    };
    place(binary, "usr/bin/shoal", 0o755)?;
    for (from, to, mode) in FILES {
        place(&root.join(PACKAGING).join(from), to, mode)?;
    }
    fs::write(stage.join("DEBIAN/conffiles"), "/etc/default/shoal\n")?;
    let size = fs::metadata(binary)?.len().div_ceil(1024) + 8;
    fs::write(stage.join("DEBIAN/control"), control(version, size))?;
    let deb = out.join(format!("shoal_{version}_amd64.deb"));
    sh::output(
        Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group"])
            .arg(&stage)
            .arg(&deb),
    )?;
    fs::remove_dir_all(&stage).ok();
    Ok(deb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dpkg_deb(args: &[&str], deb: &Path) -> String {
        sh::output(Command::new("dpkg-deb").args(args).arg(deb)).unwrap()
    }

    #[test]
    fn the_package_holds_the_binary_the_units_and_a_kept_config() {
        if !sh::succeeds(Command::new("dpkg-deb").arg("--version")) {
            eprintln!("skipped: no dpkg-deb");
            return;
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = std::env::temp_dir().join(format!("shoal-deb-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("shoal");
        fs::write(&binary, "#!/bin/sh\necho shoal\n").unwrap();
        let deb = build(root, &binary, "1.2.3", &dir).unwrap();
        assert_eq!(deb.file_name().unwrap(), "shoal_1.2.3_amd64.deb");
        let fields = dpkg_deb(&["--field"], &deb);
        assert!(
            fields.contains("Package: shoal") && fields.contains("Version: 1.2.3"),
            "{fields}"
        );
        assert!(fields.contains("Depends: runc"), "{fields}");
        let contents = dpkg_deb(&["--contents"], &deb);
        for (path, mode) in [
            ("./usr/bin/shoal", "-rwxr-xr-x root/root"),
            ("./lib/systemd/system/shoal.service", "-rw-r--r-- root/root"),
            (
                "./lib/systemd/system/shoal-dataplane.service",
                "-rw-r--r-- root/root",
            ),
            ("./etc/default/shoal", "-rw-r--r-- root/root"),
        ] {
            let line = contents.lines().find(|l| l.ends_with(path));
            assert!(
                line.is_some_and(|l| l.starts_with(mode)),
                "{path} ({mode}) in:\n{contents}"
            );
        }
        let unpacked = dir.join("unpacked");
        sh::run(
            Command::new("dpkg-deb")
                .arg("--control")
                .arg(&deb)
                .arg(&unpacked),
        )
        .unwrap();
        let conffiles = fs::read_to_string(unpacked.join("conffiles")).unwrap();
        assert_eq!(conffiles, "/etc/default/shoal\n");
        for script in ["postinst", "prerm"] {
            let path = unpacked.join(script);
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o755
            );
            assert!(
                sh::succeeds(Command::new("sh").arg("-n").arg(&path)),
                "{script} parses"
            );
        }
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_daemon_unit_waits_for_readiness_and_the_data_plane() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let unit = fs::read_to_string(root.join(PACKAGING).join("shoal.service")).unwrap();
        for line in [
            "Type=notify",
            "Requires=shoal-dataplane.service",
            "KillMode=process",
            "ExecStart=/usr/bin/shoal daemon --node-name ${SHOAL_NODE} $SHOAL_DAEMON_OPTS",
        ] {
            assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
        }
        let dp = fs::read_to_string(root.join(PACKAGING).join("shoal-dataplane.service")).unwrap();
        assert!(
            dp.contains("Before=shoal.service")
                && dp.contains("ExecReload=/usr/bin/shoal dp attach")
        );
    }
}
