//! Unit tests of registry references and of `pull`'s error paths that need
//! no real registry (a one-answer HTTP server on loopback stands in).

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use super::reference::{Reference, Target};
use super::registry::RegistryError;
use super::{
    CredentialStore, Credentials, Digest, ImageError, ImageStore, InsecureRegistries,
    RegistryAccess,
};

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
    let r = Reference::parse("localhost:5000/app").unwrap();
    assert_eq!(r.target, Target::Tag("latest".into()));
    let digest = Digest::of(b"m");
    let r = Reference::parse(&format!("[::1]:5000/app@{digest}")).unwrap();
    assert_eq!(r.target, Target::Digest(digest.clone()));
    assert!(r.local_name().is_none());
    assert_eq!(r.to_string(), format!("[::1]:5000/app@{digest}"));
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
                source: RegistryError::LoginRequired { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("shoal login 127.0.0.1:"), "{err}");
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

#[test]
fn plain_http_is_refused_for_a_registry_not_marked_insecure() {
    let port =
        answer_with("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let strict = RegistryAccess {
        insecure: InsecureRegistries::none(),
        ..RegistryAccess::default()
    };
    let err = store
        .pull_with(&format!("127.0.0.1:{port}/app:1"), &strict)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ImageError::Registry {
                source: RegistryError::Tls { .. },
                ..
            }
        ),
        "a registry answering plain http is not spoken to in clear: {err}"
    );
    assert!(err.to_string().contains("--insecure-registry"), "{err}");
}

#[test]
fn insecure_registries_are_loopback_and_what_the_operator_lists() {
    let insecure =
        InsecureRegistries::parse(&["10.1.0.0/16", "reg.lab:5000", "plain.lab"]).unwrap();
    for registry in [
        "localhost:5000",
        "127.0.0.1:5000",
        "[::1]:5000",
        "10.1.2.3:5000",
    ] {
        assert!(insecure.contains(registry), "{registry} is insecure");
    }
    for registry in ["reg.lab:5000", "plain.lab", "plain.lab:443"] {
        assert!(insecure.contains(registry), "{registry} is listed");
    }
    for registry in [
        "10.2.0.1:5000",
        "reg.lab:5001",
        "registry.example.com",
        "198.18.0.1",
    ] {
        assert!(!insecure.contains(registry), "{registry} is not insecure");
    }
    assert!(!InsecureRegistries::none().contains("127.0.0.1:5000"));
    for bad in ["10.0.0.0/33", "nonsense/x", ""] {
        assert!(InsecureRegistries::parse(&[bad]).is_err(), "{bad:?}");
    }
}

#[test]
fn the_credential_store_is_private_to_root() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let store = CredentialStore::new(dir.path().join("auth.json"));
    assert_eq!(store.get("reg:5000").unwrap(), None);
    let login = Credentials {
        username: "alice".to_owned(),
        password: "s3cret".to_owned(),
    };
    store.set("reg:5000", login.clone()).unwrap();
    assert_eq!(store.get("reg:5000").unwrap(), Some(login.clone()));
    let mode = std::fs::metadata(dir.path().join("auth.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the file holds passwords");
    assert!(
        !format!("{login:?}").contains("s3cret"),
        "Debug hides the password"
    );
    assert!(store.remove("reg:5000").unwrap());
    assert!(!store.remove("reg:5000").unwrap());
    assert_eq!(store.get("reg:5000").unwrap(), None);
}

/// A registry on loopback (plain http) that wants a Bearer token from its
/// own `/token` realm, which it gives for `alice:pw` only; with the token
/// it knows no manifest (404). Every request line is recorded.
fn token_registry() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use base64::Engine as _;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:pw");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let text = String::from_utf8_lossy(&request[..n]).into_owned();
            let line = text.lines().next().unwrap_or("").to_owned();
            log.lock().unwrap().push(line.clone());
            let challenge = format!(
                "Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\",scope=\"repository:app:pull\""
            );
            let (status, extra, body) = if !line.starts_with("GET ") {
                ("400 Bad Request", String::new(), "")
            } else if line.starts_with("GET /token") && text.contains(&format!("Basic {basic}")) {
                ("200 OK", String::new(), r#"{"token":"tok123"}"#)
            } else if line.starts_with("GET /token") {
                ("401 Unauthorized", String::new(), "")
            } else if text.contains("Bearer tok123") {
                ("404 Not Found", String::new(), r#"{"errors":[]}"#)
            } else {
                (
                    "401 Unauthorized",
                    format!("Www-Authenticate: {challenge}\r\n"),
                    "",
                )
            };
            let response = format!(
                "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, seen)
}

#[test]
fn a_bearer_challenge_is_answered_with_a_token_bought_with_the_login() {
    let (port, seen) = token_registry();
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let reference = format!("127.0.0.1:{port}/app:1");
    let err = store.pull(&reference).unwrap_err();
    assert!(
        matches!(
            &err,
            ImageError::Registry {
                source: RegistryError::LoginRequired { .. },
                ..
            }
        ),
        "the token service refuses anonymous pulls: {err}"
    );
    let login = RegistryAccess {
        credentials: Some(Credentials {
            username: "alice".to_owned(),
            password: "pw".to_owned(),
        }),
        ..RegistryAccess::default()
    };
    let err = store.pull_with(&reference, &login).unwrap_err();
    assert!(
        matches!(
            &err,
            ImageError::Registry {
                source: RegistryError::ManifestUnknown { .. },
                ..
            }
        ),
        "with the token the registry answers (404 here): {err}"
    );
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|l| l.starts_with("GET /token?service=fake&scope=repository%3Aapp%3Apull ")),
        "the token was asked for the challenge's service and scope: {seen:?}"
    );
}
