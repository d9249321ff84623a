//! `ImageStore::pull_with` from a registry that speaks only TLS and wants
//! a login: Debian's `docker-registry` on a loopback port with a server
//! certificate from a CA made here (rcgen) and htpasswd (bcrypt) users
//! made with `htpasswd -B` (apache2-utils). The image is pushed first by
//! a plain-http registry serving the same directory.
//!
//! ```text
//!   ImageStore ──https──► docker-registry 127.0.0.1:<port>
//!     access: certs.d/127.0.0.1:<port>/ca.crt      tls: server.crt (CA made here)
//!             login alice / s3cret                 auth: htpasswd alice
//! ```
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed step should stop the test where it happened"
)]

mod support;

use shoal_runtime::image::{
    Credentials, ImageBuilder, ImageError, ImageStore, InsecureRegistries, RegistryAccess,
    RegistryError, check_login,
};
use support::{Registry, make_certs, make_htpasswd};

/// The registry error of a failed pull.
fn registry_error(err: ImageError) -> RegistryError {
    match err {
        ImageError::Registry { source, .. } => source,
        other => panic!("expected a registry error, got: {other}"),
    }
}

#[test]
fn a_tls_registry_with_logins_is_pulled_from_only_with_its_ca_and_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = ImageBuilder::busybox("app", &[], &["true"])
        .unwrap()
        .oci_blobs()
        .unwrap();
    drop({
        let plain = Registry::start(dir.path());
        plain.push("shoal/app", "1", &blobs);
        plain
    });
    let (ca, cert, key) = make_certs(dir.path(), "127.0.0.1");
    let htpasswd = make_htpasswd(dir.path(), "alice", "s3cret");
    let registry = Registry::start_secure(dir.path(), &cert, &key, &htpasswd);
    let host = registry.host();
    let reference = format!("{host}/shoal/app:1");
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let certs_dir = dir.path().join("certs.d");
    std::fs::create_dir_all(certs_dir.join(&host)).unwrap();
    let mut access = RegistryAccess {
        certs_dir: Some(certs_dir.clone()),
        ..RegistryAccess::default()
    };

    // Loopback is insecure by default, yet a registry speaking TLS is
    // verified: an unknown CA is an error, not a fallback to http.
    let err = registry_error(store.pull_with(&reference, &access).unwrap_err());
    assert!(
        matches!(&err, RegistryError::UntrustedCertificate { .. }),
        "the registry's CA is not trusted yet: {err}"
    );
    assert!(err.to_string().contains("certs.d"), "{err}");

    std::fs::copy(&ca, certs_dir.join(&host).join("ca.crt")).unwrap();
    let err = registry_error(store.pull_with(&reference, &access).unwrap_err());
    assert!(
        matches!(&err, RegistryError::LoginRequired { .. }),
        "no login: {err}"
    );
    assert!(err.to_string().contains("shoal login"), "{err}");

    access.credentials = Some(Credentials {
        username: "alice".to_owned(),
        password: "wrong".to_owned(),
    });
    let err = registry_error(store.pull_with(&reference, &access).unwrap_err());
    assert!(
        matches!(&err, RegistryError::CredentialsRefused { .. }),
        "a wrong password: {err}"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(runtime.block_on(check_login(&host, &access)).is_err());
    assert!(store.list().unwrap().is_empty(), "nothing pulled so far");

    access.credentials = Some(Credentials {
        username: "alice".to_owned(),
        password: "s3cret".to_owned(),
    });
    runtime.block_on(check_login(&host, &access)).unwrap();
    let pulled = store.pull_with(&reference, &access).unwrap();
    assert_eq!(pulled.fetched.len(), 1 + blobs.layers.len());
    assert_eq!(store.resolve(&reference).unwrap().id, pulled.image.id);
}

#[test]
fn a_plain_http_registry_not_marked_insecure_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(dir.path());
    let blobs = ImageBuilder::busybox("app", &[], &["true"])
        .unwrap()
        .oci_blobs()
        .unwrap();
    registry.push("shoal/app", "1", &blobs);
    let reference = format!("{}/shoal/app:1", registry.host());
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let strict = RegistryAccess {
        insecure: InsecureRegistries::none(),
        ..RegistryAccess::default()
    };
    let err = registry_error(store.pull_with(&reference, &strict).unwrap_err());
    assert!(
        matches!(&err, RegistryError::Tls { .. }),
        "plain http for a registry not marked insecure: {err}"
    );
    assert!(store.list().unwrap().is_empty());
    // Marked insecure (as loopback is by default), the same registry is
    // pulled from over http.
    let insecure = RegistryAccess {
        insecure: InsecureRegistries::parse(&[registry.host()]).unwrap(),
        ..RegistryAccess::default()
    };
    store.pull_with(&reference, &insecure).unwrap();
}
