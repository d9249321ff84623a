//! Building small images locally (there is no registry to pull from): a
//! busybox-static image with applet symlinks and extra files, written as an
//! OCI image layout archive or a `docker save` tarball, both of which
//! [`super::ImageStore::load`] reads.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::oci::blob_path;
use super::types::{
    ANNOTATION_REF_NAME, Descriptor, ExecConfig, ImageConfigFile, Index, MEDIA_CONFIG,
    MEDIA_LAYER_GZIP, MEDIA_MANIFEST, Manifest, RootFs,
};
use super::{Digest, ImageError, ImageName};

/// Where Debian's busybox-static lives.
pub const BUSYBOX_PATH: &str = "/bin/busybox";
/// Applets linked to `/bin/busybox` in a busybox image.
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ash", "httpd", "nc", "echo", "cat", "sleep", "ls", "hostname", "ip", "wget", "grep",
    "head", "tail", "dd", "mkdir", "rm", "touch", "env", "id", "ps", "mount", "true", "false",
    "test", "sed", "awk", "kill", "printf", "seq", "wc", "tr", "stat", "readlink", "uname", "yes",
    "sync", "df", "cp", "mv", "ln", "chmod", "date", "find", "xargs", "ping", "top", "nslookup",
];
/// Modification time of built entries (fixed so builds are reproducible).
const BUILD_MTIME: u64 = 1_700_000_000;

/// A file to put into a built image.
#[derive(Debug, Clone)]
pub struct ExtraFile {
    /// Absolute path inside the image.
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

impl ExtraFile {
    /// A regular 0644 file.
    pub fn new(path: &str, contents: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.to_owned(),
            contents: contents.into(),
            mode: 0o644,
        }
    }
}

/// Builds one uncompressed layer tar; parent directories are added as
/// needed.
pub struct LayerBuilder {
    tar: tar::Builder<Vec<u8>>,
    dirs: BTreeSet<String>,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn build_error(entry: &str) -> impl FnOnce(std::io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        action: "add to layer",
        path: entry.into(),
        source,
    }
}

impl LayerBuilder {
    /// An empty layer.
    pub fn new() -> Self {
        Self {
            tar: tar::Builder::new(Vec::new()),
            dirs: BTreeSet::new(),
        }
    }

    fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(BUILD_MTIME);
        header
    }

    fn parents(&mut self, path: &str) -> Result<(), ImageError> {
        let rel = path.trim_start_matches('/');
        let mut prefix = String::new();
        let parts: Vec<_> = rel.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            prefix = if prefix.is_empty() {
                (*part).to_owned()
            } else {
                format!("{prefix}/{part}")
            };
            self.dir(&prefix, 0o755)?;
        }
        Ok(())
    }

    /// Adds a directory (once).
    pub fn dir(&mut self, path: &str, mode: u32) -> Result<(), ImageError> {
        let rel = path.trim_matches('/').to_owned();
        if rel.is_empty() || !self.dirs.insert(rel.clone()) {
            return Ok(());
        }
        let mut header = Self::header(tar::EntryType::Directory, 0, mode);
        let name = format!("{rel}/");
        self.tar
            .append_data(&mut header, &name, std::io::empty())
            .map_err(build_error(path))
    }

    /// Adds a regular file.
    pub fn file(&mut self, path: &str, contents: &[u8], mode: u32) -> Result<(), ImageError> {
        self.parents(path)?;
        let mut header = Self::header(tar::EntryType::Regular, contents.len() as u64, mode);
        let rel = path.trim_start_matches('/');
        self.tar
            .append_data(&mut header, rel, contents)
            .map_err(build_error(path))
    }

    /// Adds a symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<(), ImageError> {
        self.parents(path)?;
        let mut header = Self::header(tar::EntryType::Symlink, 0, 0o777);
        let rel = path.trim_start_matches('/');
        self.tar
            .append_link(&mut header, rel, target)
            .map_err(build_error(path))
    }

    /// Adds a file whose header name is written verbatim, unchecked (for
    /// tests of hostile layers, e.g. `../escape`).
    #[cfg(test)]
    pub(crate) fn raw_file(&mut self, name: &str, contents: &[u8]) -> Result<(), ImageError> {
        let mut header = Self::header(tar::EntryType::Regular, contents.len() as u64, 0o644);
        let field = &mut header.as_old_mut().name;
        field.fill(0);
        field[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        self.tar
            .append(&header, contents)
            .map_err(build_error(name))
    }

    /// The finished tar.
    pub fn finish(self) -> Result<Vec<u8>, ImageError> {
        self.tar.into_inner().map_err(build_error("end of archive"))
    }
}

/// The blobs of a built image (see [`ImageBuilder::oci_blobs`]).
#[derive(Debug, Clone)]
pub struct BuiltBlobs {
    /// The OCI image manifest (`application/vnd.oci.image.manifest.v1+json`).
    pub manifest: Vec<u8>,
    /// The image config.
    pub config: Vec<u8>,
    /// gzip-compressed layer tars, base first.
    pub layers: Vec<Vec<u8>>,
}

/// An image being built: uncompressed layers plus how to run it.
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    name: ImageName,
    layers: Vec<Vec<u8>>,
    exec: ExecConfig,
}

impl ImageBuilder {
    /// An image with no layers yet, named `repo[:tag]`.
    pub fn new(name: &str) -> Result<Self, ImageError> {
        Ok(Self {
            name: ImageName::parse(name)?,
            layers: Vec::new(),
            exec: ExecConfig {
                env: Some(vec!["PATH=/bin:/usr/bin:/sbin:/usr/sbin".to_owned()]),
                ..ExecConfig::default()
            },
        })
    }

    /// Busybox (static) with its applet links in one layer, `extra_files`
    /// in a second, and `cmd` as the default command.
    pub fn busybox(
        name: &str,
        extra_files: &[ExtraFile],
        cmd: &[&str],
    ) -> Result<Self, ImageError> {
        let busybox = fs::read(BUSYBOX_PATH).map_err(ImageError::io("read", BUSYBOX_PATH))?;
        let mut base = LayerBuilder::new();
        for dir in ["bin", "etc", "tmp", "proc", "sys", "dev", "run", "root"] {
            base.dir(dir, if dir == "tmp" { 0o1777 } else { 0o755 })?;
        }
        base.file("bin/busybox", &busybox, 0o755)?;
        for applet in BUSYBOX_APPLETS {
            base.symlink(&format!("bin/{applet}"), "busybox")?;
        }
        base.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)?;
        base.file("etc/group", b"root:x:0:\n", 0o644)?;
        let mut builder = Self::new(name)?.layer(base.finish()?);
        if !extra_files.is_empty() {
            let mut extra = LayerBuilder::new();
            for file in extra_files {
                extra.file(&file.path, &file.contents, file.mode)?;
            }
            builder = builder.layer(extra.finish()?);
        }
        Ok(builder.cmd(cmd))
    }

    /// Appends an uncompressed layer tar.
    pub fn layer(mut self, tar: Vec<u8>) -> Self {
        self.layers.push(tar);
        self
    }

    /// Sets the default command.
    pub fn cmd(mut self, cmd: &[&str]) -> Self {
        self.exec.cmd = Some(cmd.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Sets the entrypoint.
    pub fn entrypoint(mut self, entrypoint: &[&str]) -> Self {
        self.exec.entrypoint = Some(entrypoint.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Adds a `KEY=value` environment entry.
    pub fn env(mut self, entry: &str) -> Self {
        self.exec
            .env
            .get_or_insert_with(Vec::new)
            .push(entry.to_owned());
        self
    }

    fn config_bytes(&self) -> Result<Vec<u8>, ImageError> {
        let config = ImageConfigFile {
            architecture: "amd64".to_owned(),
            os: "linux".to_owned(),
            created: None,
            config: self.exec.clone(),
            rootfs: RootFs {
                kind: "layers".to_owned(),
                diff_ids: self.layers.iter().map(|l| Digest::of(l)).collect(),
            },
        };
        serde_json::to_vec(&config).map_err(ImageError::json("built image config"))
    }

    /// The image's blobs as a registry holds them: gzip layers, config and
    /// an OCI manifest pointing at both (what a push uploads).
    pub fn oci_blobs(&self) -> Result<BuiltBlobs, ImageError> {
        let config = self.config_bytes()?;
        let mut layers = Vec::new();
        let mut descriptors = Vec::new();
        for layer in &self.layers {
            let mut gz = GzEncoder::new(Vec::new(), Compression::default());
            gz.write_all(layer).map_err(build_error("gzip layer"))?;
            let gz = gz.finish().map_err(build_error("gzip layer"))?;
            descriptors.push(Descriptor::of(MEDIA_LAYER_GZIP, &gz));
            layers.push(gz);
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: MEDIA_MANIFEST.to_owned(),
            config: Descriptor::of(MEDIA_CONFIG, &config),
            layers: descriptors,
        };
        let manifest = serde_json::to_vec(&manifest).map_err(ImageError::json("built manifest"))?;
        Ok(BuiltBlobs {
            manifest,
            config,
            layers,
        })
    }

    /// The files of an OCI image layout (gzip layers), archive path first.
    pub(crate) fn oci_entries(&self) -> Result<Vec<(String, Vec<u8>)>, ImageError> {
        let BuiltBlobs {
            manifest,
            config,
            layers,
        } = self.oci_blobs()?;
        let mut entries: Vec<_> = layers
            .into_iter()
            .map(|gz| (blob_path(&Digest::of(&gz)), gz))
            .collect();
        entries.push((blob_path(&Digest::of(&config)), config));
        let mut manifest_desc = Descriptor::of(MEDIA_MANIFEST, &manifest);
        manifest_desc
            .annotations
            .insert(ANNOTATION_REF_NAME.to_owned(), self.name.to_string());
        entries.push((blob_path(&manifest_desc.digest), manifest));
        let index = Index {
            schema_version: 2,
            media_type: super::types::MEDIA_INDEX.to_owned(),
            manifests: vec![manifest_desc],
        };
        let index = serde_json::to_vec(&index).map_err(ImageError::json("built index"))?;
        entries.push(("index.json".to_owned(), index));
        entries.push((
            "oci-layout".to_owned(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ));
        Ok(entries)
    }

    /// The files of a (legacy-format) `docker save` tarball.
    pub(crate) fn docker_entries(&self) -> Result<Vec<(String, Vec<u8>)>, ImageError> {
        let config = self.config_bytes()?;
        let config_name = format!("{}.json", Digest::of(&config).hex());
        let mut entries = Vec::new();
        let mut layer_names = Vec::new();
        for layer in &self.layers {
            let id = Digest::of(layer);
            let name = format!("{}/layer.tar", id.hex());
            entries.push((format!("{}/VERSION", id.hex()), b"1.0".to_vec()));
            entries.push((name.clone(), layer.clone()));
            layer_names.push(name);
        }
        entries.push((config_name.clone(), config));
        let manifest = serde_json::json!([{
            "Config": config_name,
            "RepoTags": [self.name.to_string()],
            "Layers": layer_names,
        }]);
        entries.push((
            "manifest.json".to_owned(),
            manifest.to_string().into_bytes(),
        ));
        Ok(entries)
    }

    /// Writes an OCI image layout archive to `out`; returns the image id.
    pub fn write_oci_archive(&self, out: &Path) -> Result<Digest, ImageError> {
        write_tar(out, &self.oci_entries()?)?;
        Ok(Digest::of(&self.config_bytes()?))
    }

    /// Writes a `docker save` tarball to `out`; returns the image id.
    pub fn write_docker_archive(&self, out: &Path) -> Result<Digest, ImageError> {
        write_tar(out, &self.docker_entries()?)?;
        Ok(Digest::of(&self.config_bytes()?))
    }
}

/// Writes `entries` (path, contents) as a tar file.
pub(crate) fn write_tar(out: &Path, entries: &[(String, Vec<u8>)]) -> Result<(), ImageError> {
    let file = fs::File::create(out).map_err(ImageError::io("create", out))?;
    let mut tar = tar::Builder::new(file);
    for (name, contents) in entries {
        let mut header =
            LayerBuilder::header(tar::EntryType::Regular, contents.len() as u64, 0o644);
        tar.append_data(&mut header, name, contents.as_slice())
            .map_err(ImageError::io("write", out))?;
    }
    tar.into_inner()
        .and_then(|mut f| f.flush())
        .map_err(ImageError::io("write", out))
}

/// Builds a busybox image (see [`ImageBuilder::busybox`]) and writes it as
/// an OCI archive to `out`; returns the image id.
pub fn build_busybox_image(
    name: &str,
    extra_files: &[ExtraFile],
    cmd: &[&str],
    out: &Path,
) -> Result<Digest, ImageError> {
    ImageBuilder::busybox(name, extra_files, cmd)?.write_oci_archive(out)
}
