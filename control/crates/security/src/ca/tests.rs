//! Tests of the cluster CA.

use super::*;
use x509_parser::prelude::{FromDer, X509Certificate};

const CLUSTER: &str = "cluster7";

fn root() -> RootCa {
    RootCa::create(CLUSTER, DEFAULT_ROOT_EXPIRY).expect("create root CA")
}

fn validity() -> CertValidity {
    CertValidity::from_now(DEFAULT_NODE_CERT_EXPIRY).expect("validity")
}

#[test]
fn root_ca_is_a_ca_with_cluster_org() {
    let ca = root();
    assert_eq!(ca.cert().cluster_id(), CLUSTER);
    let (_, parsed) = X509Certificate::from_der(ca.cert().der()).expect("parse");
    assert!(parsed.is_ca());
    let years = (parsed.validity().not_after.to_datetime() - time::OffsetDateTime::now_utc())
        .whole_days()
        / 365;
    assert_eq!(years, 19, "about 20 years minus the skew backdating");
}

#[test]
fn issue_with_new_key_carries_identity() {
    let ca = root();
    let (_key, cert) = ca
        .issue_with_new_key("node1", Role::Manager, validity())
        .expect("issue");
    let id = cert.identity().expect("identity");
    assert_eq!(id.node_id, "node1");
    assert_eq!(id.role, Role::Manager);
    assert_eq!(id.cluster_id, CLUSTER);
    let days = (id.not_after - time::OffsetDateTime::now_utc()).whole_days();
    assert!((89..=90).contains(&days), "got {days} days");
}

#[test]
fn issue_for_csr_ignores_requested_subject() {
    let ca = root();
    let key = NodeKey::generate().expect("key");
    let csr = key.csr_der("i-want-to-be-someone-else").expect("csr");
    let cert = ca
        .issue_for_csr(&csr, "worker9", Role::Worker, validity())
        .expect("issue");
    let id = cert.identity().expect("identity");
    assert_eq!(id.node_id, "worker9");
    assert_eq!(id.role, Role::Worker);
    let (_, parsed) = X509Certificate::from_der(cert.der()).expect("parse");
    assert_eq!(
        parsed.public_key().subject_public_key.data.as_ref(),
        key.key_pair().public_key_raw()
    );
}

#[test]
fn garbage_csr_is_rejected() {
    let ca = root();
    let err = ca
        .issue_for_csr(b"not a csr", "n1", Role::Worker, validity())
        .expect_err("must fail");
    assert!(matches!(err, CaError::InvalidCsr { .. }), "{err:?}");
}

#[test]
fn tampered_csr_signature_is_rejected() {
    let ca = root();
    let mut csr = NodeKey::generate()
        .expect("key")
        .csr_der("n1")
        .expect("csr");
    let last = csr.len() - 1;
    csr[last] ^= 0x01;
    let err = ca
        .issue_for_csr(&csr, "n1", Role::Worker, validity())
        .expect_err("must fail");
    assert!(matches!(err, CaError::InvalidCsr { .. }), "{err:?}");
}

#[test]
fn invalid_ids_are_rejected() {
    let ca = root();
    for bad in ["", "UPPER", "has space", "-lead", &"x".repeat(64)] {
        let err = ca
            .issue_with_new_key(bad, Role::Worker, validity())
            .expect_err(bad);
        assert!(matches!(err, CaError::InvalidId { .. }), "{bad}: {err:?}");
    }
    assert!(RootCa::create("Bad_Cluster", DEFAULT_ROOT_EXPIRY).is_err());
}

#[test]
fn inverted_validity_is_rejected() {
    let now = time::OffsetDateTime::now_utc();
    assert!(matches!(
        CertValidity::new(now, now - time::Duration::hours(1)),
        Err(CaError::InvalidValidity)
    ));
}

#[test]
fn digest_is_sha256_of_der() {
    use sha2::{Digest, Sha256};
    let ca = root();
    let expected: [u8; 32] = Sha256::digest(ca.cert().der()).into();
    assert_eq!(ca.cert().digest().as_bytes(), &expected);
    assert_eq!(ca.cert().digest().to_hex().len(), 64);
}

#[test]
fn node_cert_is_not_accepted_as_ca() {
    let ca = root();
    let (_, cert) = ca
        .issue_with_new_key("n1", Role::Manager, validity())
        .expect("issue");
    assert!(matches!(
        CaCert::from_der(cert.der().to_vec()),
        Err(CaError::NotACa)
    ));
}

#[test]
fn root_ca_pem_round_trip_keeps_signing_compatible() {
    let ca = root();
    let reloaded = RootCa::from_pem(&ca.cert().to_pem(), &ca.key_pem()).expect("reload");
    assert_eq!(reloaded.cert(), ca.cert());
    let other = RootCa::create(CLUSTER, DEFAULT_ROOT_EXPIRY).expect("other");
    assert!(matches!(
        RootCa::from_pem(&ca.cert().to_pem(), &other.key_pem()),
        Err(CaError::KeyMismatch)
    ));
}

#[test]
fn persistence_uses_private_mode_for_keys() {
    use std::os::unix::fs::PermissionsExt;
    let dir = test_dir("persist");
    let ca = root();
    persist::save_root_ca(&ca, &dir).expect("save");
    let mode = |name: &str| {
        std::fs::metadata(dir.join(name))
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(persist::CA_KEY_FILE), 0o600);
    assert_eq!(mode(persist::CA_CERT_FILE), 0o644);
    let loaded = persist::load_root_ca(&dir).expect("load");
    assert_eq!(loaded.cert(), ca.cert());

    let (key, cert) = ca
        .issue_with_new_key("n1", Role::Worker, validity())
        .expect("issue");
    persist::save_node_credentials(&cert, &key, &dir).expect("save node");
    assert_eq!(mode(persist::NODE_KEY_FILE), 0o600);
    let (cert2, key2) = persist::load_node_credentials(&dir).expect("load node");
    assert_eq!(cert2, cert);
    assert_eq!(*key2.to_pem(), *key.to_pem());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_sealed_node_key_is_no_private_key_on_disk_and_opens_only_with_its_data_key() {
    use crate::seal::DataKey;
    let dir = test_dir("sealed-key");
    let (key, cert) = root()
        .issue_with_new_key("n1", Role::Manager, validity())
        .expect("issue");
    persist::save_node_cert(&cert, &dir).expect("save cert");
    let data_key = DataKey::generate();
    persist::save_node_key(&key, &dir, Some(&data_key)).expect("save sealed");
    let stored = std::fs::read(dir.join(persist::NODE_KEY_FILE)).expect("read");
    let text = String::from_utf8_lossy(&stored);
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert!(NodeKey::from_pem(&text).is_err());
    assert!(matches!(
        persist::load_node_credentials(&dir),
        Err(CaError::SealedKey { .. })
    ));
    assert!(matches!(
        persist::load_node_credentials_sealed(&dir, Some(&DataKey::generate())),
        Err(CaError::OpenSealedKey { .. })
    ));
    let (_, opened) =
        persist::load_node_credentials_sealed(&dir, Some(&data_key)).expect("open sealed");
    assert_eq!(*opened.to_pem(), *key.to_pem());
    // Autolock off: back to PEM, readable without a data key.
    persist::save_node_key(&key, &dir, None).expect("save clear");
    let (_, clear) = persist::load_node_credentials(&dir).expect("load clear");
    assert_eq!(*clear.to_pem(), *key.to_pem());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// A fresh directory under the system temp dir.
pub(crate) fn test_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "shoal-{name}-{}-{:x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

#[test]
fn new_ids_are_valid_node_ids() {
    let id = shoal_model::ids::new_id();
    assert_eq!(id.len(), 25);
    assert!(validate_id("node ID", &id).is_ok());
}
