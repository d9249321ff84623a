//! Unit tests of registry references and of `pull`'s error paths that need
//! no real registry (a one-answer HTTP server on loopback stands in).

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use super::reference::{Reference, Target};
use super::registry::RegistryError;
use super::{Digest, ImageError, ImageStore};

#[test]
fn references_name_their_registry() {
    let r = Reference::parse("127.0.0.1:5000/team/app:1.2").unwrap();
    assert_eq!(
        (r.registry.as_str(), r.repository.as_str(), &r.target),
        ("127.0.0.1:5000", "team/app", &Target::Tag("1.2".into()))
    );
    assert_eq!(
        r.local_name().unwrap().to_string(),
        "127.0.0.1:5000/team/app:1.2"
    );
    assert!(r.plain_http());
    let r = Reference::parse("localhost:5000/app").unwrap();
    assert_eq!(r.target, Target::Tag("latest".into()));
    assert!(r.plain_http());
    let digest = Digest::of(b"m");
    let r = Reference::parse(&format!("[::1]:5000/app@{digest}")).unwrap();
    assert_eq!(r.target, Target::Digest(digest.clone()));
    assert!(r.local_name().is_none());
    assert!(r.plain_http());
    assert_eq!(r.to_string(), format!("[::1]:5000/app@{digest}"));
    assert!(
        !Reference::parse("registry.example.com/app")
            .unwrap()
            .plain_http()
    );
    for bad in [
        "busybox",
        "library/busybox:1",
        "127.0.0.1:5000/App",
        "127.0.0.1:5000/app:",
        "127.0.0.1:5000//app",
        "127.0.0.1:5000/app@sha256:123",
    ] {
        assert!(
            matches!(
                Reference::parse(bad),
                Err(ImageError::InvalidReference { .. } | ImageError::BadDigest { .. })
            ),
            "{bad}"
        );
    }
}

/// A server on loopback answering every connection with `response`.
fn answer_with(response: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

fn pull_error(reference: &str) -> (ImageError, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let err = store.pull(reference).unwrap_err();
    assert!(store.list().unwrap().is_empty());
    let tmp = std::fs::read_dir(store.root().join("tmp")).unwrap().count();
    assert_eq!(tmp, 0, "staging left behind");
    (err, dir)
}

#[test]
fn a_registry_asking_for_credentials_gets_a_clear_error() {
    let port = answer_with(
        "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Basic realm=\"r\"\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let (err, _dir) = pull_error(&format!("127.0.0.1:{port}/app:1"));
    assert!(
        matches!(
            &err,
            ImageError::Registry {
                source: RegistryError::Unauthorized { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("requires authentication"), "{err}");
}

#[test]
fn unsupported_manifests_and_registries_are_refused() {
    let port = answer_with(
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v1+prettyjws\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    let (err, _dir) = pull_error(&format!("127.0.0.1:{port}/app:1"));
    assert!(
        matches!(
            &err,
            ImageError::Unsupported {
                what: "media type",
                ..
            }
        ),
        "{err}"
    );

    let (err, _dir) = pull_error("registry.example.com/app:1");
    assert!(
        matches!(
            &err,
            ImageError::Registry {
                source: RegistryError::HttpsUnsupported,
                ..
            }
        ),
        "{err}"
    );
    let unused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (err, _dir) = pull_error(&format!("127.0.0.1:{unused}/app:1"));
    assert!(
        matches!(&err, ImageError::Registry { source, .. } if source.is_retryable()),
        "{err}"
    );
}
