//! A real OCI distribution registry for the pull tests: Debian's
//! `docker-registry` on a loopback port serving a temporary directory,
//! fed by a small push client (plain http); the same directory can then
//! be served over TLS with htpasswd logins (certificates made here with
//! rcgen, logins with `htpasswd -B`). The netns labs include this file too
//! (`netns-tests/tests/images.rs`): they push on loopback and serve the
//! directory inside the lab with [`write_config`] and [`tls_config`].
#![allow(
    dead_code,
    reason = "each test file uses a different part of the helper"
)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use shoal_runtime::image::{BuiltBlobs, Digest};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A registry serving from a temporary directory; killed (by its own
/// process ID) when dropped.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub data: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound, read and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    /// A plain-http registry serving `dir/registry`; up once `/v2/` answers.
    pub fn start(dir: &Path) -> Self {
        let port = free_port();
        let registry = Self::spawn(dir, "config.yml", port, "");
        let deadline = Instant::now() + Duration::from_secs(20);
        while registry.http("GET", "/v2/", &[], b"").0 != 200 {
            assert!(Instant::now() < deadline, "the registry did not come up");
            sleep(Duration::from_millis(100));
        }
        registry
    }

    /// Serves the same `dir/registry` over TLS (`cert` and `key`, PEM)
    /// with the htpasswd (bcrypt) logins of `htpasswd`; up once its port
    /// accepts connections.
    pub fn start_secure(dir: &Path, cert: &Path, key: &Path, htpasswd: &Path) -> Self {
        let port = free_port();
        let extra = tls_config(cert, key, htpasswd);
        let registry = Self::spawn(dir, "config-tls.yml", port, &extra);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the TLS registry did not come up"
            );
            sleep(Duration::from_millis(100));
        }
        registry
    }

    /// Runs the registry on `port` with `extra` appended to its config
    /// (after the `http:` section's `addr`).
    fn spawn(dir: &Path, config_name: &str, port: u16, extra: &str) -> Self {
        let data = dir.join("registry");
        let config = write_config(dir, config_name, &format!("127.0.0.1:{port}"), extra);
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, port, data }
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// One HTTP/1.1 exchange (`Connection: close`): status and headers
    /// (lowercase names); 0 when the registry is not listening yet.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<(String, String)>) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, Vec::new());
        };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host(),
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let text = String::from_utf8_lossy(&response);
        let head = text.split("\r\n\r\n").next().unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap().split(' ').nth(1).unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned()))
            .collect();
        (status.parse().unwrap(), headers)
    }

    /// Uploads one blob (monolithic: POST for a session, PUT with the digest).
    pub fn push_blob(&self, repo: &str, blob: &[u8]) {
        let (status, headers) = self.http("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"");
        assert_eq!(status, 202, "upload session for {repo}");
        let location = &headers.iter().find(|(n, _)| n == "location").unwrap().1;
        let path = location
            .strip_prefix(&format!("http://{}", self.host()))
            .unwrap_or(location);
        let sep = if path.contains('?') { '&' } else { '?' };
        let put = format!("{path}{sep}digest={}", Digest::of(blob));
        let octets = [("Content-Type", "application/octet-stream")];
        let (status, _) = self.http("PUT", &put, &octets, blob);
        assert_eq!(status, 201, "blob upload to {repo}");
    }

    pub fn push_manifest(&self, repo: &str, tag: &str, media_type: &str, manifest: &[u8]) {
        let path = format!("/v2/{repo}/manifests/{tag}");
        let (status, _) = self.http("PUT", &path, &[("Content-Type", media_type)], manifest);
        assert_eq!(status, 201, "manifest {repo}:{tag}");
    }

    /// Pushes a built image as `repo:tag`.
    pub fn push(&self, repo: &str, tag: &str, blobs: &BuiltBlobs) {
        for layer in &blobs.layers {
            self.push_blob(repo, layer);
        }
        self.push_blob(repo, &blobs.config);
        let oci = "application/vnd.oci.image.manifest.v1+json";
        self.push_manifest(repo, tag, oci, &blobs.manifest);
    }

    /// The registry's file holding a blob.
    pub fn blob_file(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.data
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

/// Writes `dir/<config_name>`: a registry config serving `dir/registry`
/// on `addr` (`ip:port`) with `extra` appended after the `http:` section's
/// `addr`; its path.
pub fn write_config(dir: &Path, config_name: &str, addr: &str, extra: &str) -> PathBuf {
    let data = dir.join("registry");
    let config = dir.join(config_name);
    let yaml = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
         http:\n  addr: {addr}\n{extra}",
        data.display()
    );
    std::fs::write(&config, yaml).unwrap();
    config
}

/// The config lines of a TLS registry (`cert` and `key`, PEM) with the
/// htpasswd (bcrypt) logins of `htpasswd`.
pub fn tls_config(cert: &Path, key: &Path, htpasswd: &Path) -> String {
    format!(
        "  tls:\n    certificate: {}\n    key: {}\n\
         auth:\n  htpasswd:\n    realm: shoal-test\n    path: {}\n",
        cert.display(),
        key.display(),
        htpasswd.display()
    )
}

/// Writes a CA and a server certificate for `name` (an IP address or a
/// DNS name) signed by it into `dir`: (CA PEM path, server cert path,
/// server key path).
pub fn make_certs(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_ca_cert_der(ca.der(), ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.crt"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, server.pem()).unwrap();
    std::fs::write(&paths.2, server_key.serialize_pem()).unwrap();
    (paths.0, paths.1, paths.2)
}

/// An htpasswd file with `user:password`, bcrypt as docker-registry wants.
pub fn make_htpasswd(dir: &Path, user: &str, password: &str) -> PathBuf {
    let output = Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .output()
        .expect("htpasswd (apache2-utils, `cargo xtask setup` installs it)");
    assert!(output.status.success(), "htpasswd -B failed");
    let path = dir.join("htpasswd");
    std::fs::write(&path, output.stdout).unwrap();
    path
}
