//! Tests of encryption at rest.

use super::*;

const CONTEXT: &[u8] = b"raft-log";

#[test]
fn seal_open_round_trip() {
    let key = DataKey::generate();
    for plaintext in [&b""[..], b"x", &[7u8; 10_000]] {
        let sealed = key.seal(CONTEXT, plaintext).expect("seal");
        assert_eq!(sealed.len(), plaintext.len() + SEAL_OVERHEAD);
        assert_eq!(key.open(CONTEXT, &sealed).expect("open"), plaintext);
    }
    let a = key.seal(CONTEXT, b"same").expect("seal");
    let b = key.seal(CONTEXT, b"same").expect("seal");
    assert_ne!(a, b, "fresh nonce per record");
}

#[test]
fn wrong_key_or_context_is_rejected() {
    let sealed = DataKey::generate().seal(CONTEXT, b"secret").expect("seal");
    assert!(matches!(
        DataKey::generate().open(CONTEXT, &sealed),
        Err(SealError::Authentication)
    ));
    let key = DataKey::generate();
    let sealed = key.seal(CONTEXT, b"secret").expect("seal");
    assert!(matches!(
        key.open(b"raft-snapshot", &sealed),
        Err(SealError::Authentication)
    ));
}

#[test]
fn tampering_is_rejected() {
    let key = DataKey::generate();
    let sealed = key.seal(CONTEXT, b"the desired state").expect("seal");
    for index in [1, NONCE_LEN + 1, sealed.len() - 1] {
        let mut tampered = sealed.clone();
        tampered[index] ^= 0x80;
        assert!(
            matches!(key.open(CONTEXT, &tampered), Err(SealError::Authentication)),
            "flip at {index}"
        );
    }
    let mut versioned = sealed.clone();
    versioned[0] = 9;
    assert!(matches!(
        key.open(CONTEXT, &versioned),
        Err(SealError::UnsupportedVersion { version: 9 })
    ));
    assert!(matches!(
        key.open(CONTEXT, &sealed[..SEAL_OVERHEAD - 1]),
        Err(SealError::Truncated { .. })
    ));
}

#[test]
fn unlock_key_round_trips_and_wraps() {
    let unlock = UnlockKey::generate();
    let text = unlock.expose();
    assert!(text.starts_with("SWMKEY-1-"));
    assert_eq!(text.len(), "SWMKEY-1-".len() + 50);
    let parsed: UnlockKey = text.parse().expect("parse");
    let data_key = DataKey::generate();
    let wrapped = unlock.wrap(&data_key).expect("wrap");
    let unwrapped = parsed.unwrap_key(&wrapped).expect("unwrap");
    assert_eq!(unwrapped.expose_bytes(), data_key.expose_bytes());
    assert!(matches!(
        UnlockKey::generate().unwrap_key(&wrapped),
        Err(SealError::WrongUnlockKey)
    ));
}

#[test]
fn malformed_unlock_keys_are_rejected() {
    let good = UnlockKey::generate().expose().to_string();
    let field = good.rsplit('-').next().expect("field").to_owned();
    let cases: Vec<(String, KeyParseError)> = vec![
        (
            good.replacen("SWMKEY", "SWMTKN", 1),
            KeyParseError::WrongPrefix {
                found: "SWMTKN".into(),
            },
        ),
        (
            good.replacen("-1-", "-2-", 1),
            KeyParseError::UnsupportedVersion { found: "2".into() },
        ),
        (
            format!("{good}-x"),
            KeyParseError::WrongPartCount { found: 4 },
        ),
        (
            format!("SWMKEY-1-{}", &field[1..]),
            KeyParseError::BadLength {
                expected: 50,
                found: 49,
            },
        ),
        (
            format!("SWMKEY-1-{}_", &field[1..]),
            KeyParseError::BadCharset { position: 49 },
        ),
        (
            format!("SWMKEY-1-{}", "z".repeat(50)),
            KeyParseError::OutOfRange,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(text.parse::<UnlockKey>().err(), Some(expected), "{text}");
    }
}

#[test]
fn stored_key_locked_and_unlocked() {
    let data_key = DataKey::generate();
    let unlock = UnlockKey::generate();
    let locked = StoredDataKey::new(&data_key, Some(&unlock)).expect("wrap");
    let bytes = locked.to_bytes();
    assert!(
        !bytes
            .windows(32)
            .any(|window| window == data_key.expose_bytes()),
        "wrapped key file must not contain the key"
    );
    let restored = StoredDataKey::from_bytes(&bytes).expect("parse");
    assert!(matches!(restored.unlock(None), Err(SealError::Locked)));
    let key = restored.unlock(Some(&unlock)).expect("unlock");
    assert_eq!(key.expose_bytes(), data_key.expose_bytes());

    let plain = StoredDataKey::from_bytes(
        &StoredDataKey::new(&data_key, None)
            .expect("plain")
            .to_bytes(),
    )
    .expect("parse");
    assert_eq!(
        plain.unlock(None).expect("plain").expose_bytes(),
        data_key.expose_bytes()
    );
    assert!(matches!(
        StoredDataKey::from_bytes(b"garbage"),
        Err(SealError::MalformedStoredKey { .. })
    ));
}

#[test]
fn sealed_file_holds_no_plaintext_markers() {
    let markers: [&[u8]; 3] = [
        b"MARKER-secret-db-password-hunter2",
        b"MARKER-tls-key-0123456789abcdef",
        b"MARKER-join-token-SWMTKN-1-xyz",
    ];
    let key = DataKey::generate();
    let mut file_contents = Vec::new();
    for marker in markers {
        let sealed = key.seal(CONTEXT, marker).expect("seal");
        let len = u32::try_from(sealed.len()).expect("len");
        file_contents.extend_from_slice(&len.to_be_bytes());
        file_contents.extend_from_slice(&sealed);
    }
    let path = std::env::temp_dir().join(format!(
        "shoal-seal-{}-{:x}.log",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::write(&path, &file_contents).expect("write");
    let on_disk = std::fs::read(&path).expect("read");
    std::fs::remove_file(&path).expect("cleanup");

    for marker in markers {
        assert!(
            !on_disk.windows(marker.len()).any(|w| w == marker),
            "marker {:?} found in clear",
            String::from_utf8_lossy(marker)
        );
        assert!(!on_disk.windows(6).any(|w| w == b"MARKER"));
    }
    // And the records still read back.
    let mut rest = on_disk.as_slice();
    for marker in markers {
        let (len, tail) = rest.split_at(4);
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let (record, tail) = tail.split_at(len);
        assert_eq!(key.open(CONTEXT, record).expect("open"), marker);
        rest = tail;
    }
}
