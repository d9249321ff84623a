//! Files for certificates and keys: PEM on disk, private keys mode 0600.
//!
//! Writes go to a temporary file in the same directory and are renamed into
//! place, so a crash never leaves a half-written key.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{CaCert, CaError, NodeCertificate, NodeKey, RootCa};
use crate::seal::DataKey;

/// File name of the root CA certificate inside a certificate directory.
pub const CA_CERT_FILE: &str = "swarm-root-ca.crt";
/// File name of the root CA key (managers only).
pub const CA_KEY_FILE: &str = "swarm-root-ca.key";
/// File name of the node's own certificate.
pub const NODE_CERT_FILE: &str = "swarm-node.crt";
/// File name of the node's own key.
pub const NODE_KEY_FILE: &str = "swarm-node.key";

/// Mode of files holding private keys.
pub const PRIVATE_MODE: u32 = 0o600;
/// Mode of files holding certificates.
pub const PUBLIC_MODE: u32 = 0o644;

/// Writes `contents` to `path` atomically with the given Unix `mode`.
pub fn write_file_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), CaError> {
    let tmp = tmp_path(path);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        // `mode` only applies on creation; a leftover temp file keeps its own.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|source| {
        let _ignored = fs::remove_file(&tmp);
        CaError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn read_string(path: &Path) -> Result<String, CaError> {
    fs::read_to_string(path).map_err(CaError::io(path))
}

/// Saves the root CA certificate (0644) and key (0600) into `dir`.
pub fn save_root_ca(ca: &RootCa, dir: &Path) -> Result<(), CaError> {
    save_ca_cert(ca.cert(), dir)?;
    write_file_atomic(
        &dir.join(CA_KEY_FILE),
        ca.key_pem().as_bytes(),
        PRIVATE_MODE,
    )
}

/// Loads the root CA certificate and key from `dir`.
pub fn load_root_ca(dir: &Path) -> Result<RootCa, CaError> {
    let cert = read_string(&dir.join(CA_CERT_FILE))?;
    let key = zeroize::Zeroizing::new(read_string(&dir.join(CA_KEY_FILE))?);
    RootCa::from_pem(&cert, &key)
}

/// Saves the public CA certificate (0644) into `dir`.
pub fn save_ca_cert(cert: &CaCert, dir: &Path) -> Result<(), CaError> {
    write_file_atomic(
        &dir.join(CA_CERT_FILE),
        cert.to_pem().as_bytes(),
        PUBLIC_MODE,
    )
}

/// Loads the public CA certificate from `dir`.
pub fn load_ca_cert(dir: &Path) -> Result<CaCert, CaError> {
    CaCert::from_pem(&read_string(&dir.join(CA_CERT_FILE))?)
}

/// Associated data of a node key sealed under a data key.
const SEALED_NODE_KEY_CONTEXT: &[u8] = b"shoal/ca/sealed-node-key/v1";

/// Saves the node's certificate (0644) and key (0600, PEM) into `dir`.
pub fn save_node_credentials(
    cert: &NodeCertificate,
    key: &NodeKey,
    dir: &Path,
) -> Result<(), CaError> {
    save_node_key(key, dir, None)?;
    save_node_cert(cert, dir)
}

/// Saves the node's certificate (0644) into `dir` (a renewal keeps the
/// key).
pub fn save_node_cert(cert: &NodeCertificate, dir: &Path) -> Result<(), CaError> {
    write_file_atomic(
        &dir.join(NODE_CERT_FILE),
        cert.to_pem().as_bytes(),
        PUBLIC_MODE,
    )
}

/// Saves the node's key (0600) into `dir`: PEM, or when `seal` is given
/// (an autolocked manager) sealed under that data key, so that it can be
/// read only once the node is unlocked.
pub fn save_node_key(key: &NodeKey, dir: &Path, seal: Option<&DataKey>) -> Result<(), CaError> {
    let path = dir.join(NODE_KEY_FILE);
    let pem = zeroize::Zeroizing::new(key.to_pem());
    let contents = match seal {
        Some(data_key) => data_key
            .seal(SEALED_NODE_KEY_CONTEXT, pem.as_bytes())
            .map_err(|source| CaError::OpenSealedKey {
                path: path.clone(),
                source,
            })?,
        None => pem.as_bytes().to_vec(),
    };
    write_file_atomic(&path, &contents, PRIVATE_MODE)
}

/// Loads the node's certificate and key from `dir` (a key stored in PEM).
pub fn load_node_credentials(dir: &Path) -> Result<(NodeCertificate, NodeKey), CaError> {
    load_node_credentials_sealed(dir, None)
}

/// Loads the node's certificate and key from `dir`; a sealed key is
/// opened with `seal`, the data key it was sealed under.
pub fn load_node_credentials_sealed(
    dir: &Path,
    seal: Option<&DataKey>,
) -> Result<(NodeCertificate, NodeKey), CaError> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    let pem = read_string(&dir.join(NODE_CERT_FILE))?;
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|source| CaError::Pem {
        what: "node certificate",
        source,
    })?;
    Ok((
        NodeCertificate::from_der(der.to_vec()),
        load_node_key(dir, seal)?,
    ))
}

fn load_node_key(dir: &Path, seal: Option<&DataKey>) -> Result<NodeKey, CaError> {
    let path = dir.join(NODE_KEY_FILE);
    let stored = zeroize::Zeroizing::new(fs::read(&path).map_err(CaError::io(&path))?);
    if stored.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(&stored).unwrap_or_default();
        return NodeKey::from_pem(text);
    }
    let data_key = seal.ok_or_else(|| CaError::SealedKey { path: path.clone() })?;
    let pem = zeroize::Zeroizing::new(data_key.open(SEALED_NODE_KEY_CONTEXT, &stored).map_err(
        |source| CaError::OpenSealedKey {
            path: path.clone(),
            source,
        },
    )?);
    NodeKey::from_pem(std::str::from_utf8(&pem).unwrap_or_default())
}
