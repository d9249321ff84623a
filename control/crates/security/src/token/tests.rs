//! Tests of join tokens.

use super::*;
use crate::ca::{CaDigest, Role};

fn digest() -> CaDigest {
    CaDigest::of_der(b"pretend this is a CA certificate")
}

fn valid_token_text() -> String {
    JoinSecrets::generate()
        .token(Role::Worker, digest())
        .to_string()
}

fn parse(text: &str) -> Result<JoinToken, TokenError> {
    text.parse()
}

#[test]
fn token_round_trips_in_swarm_shape() {
    let secrets = JoinSecrets::generate();
    let token = secrets.token(Role::Manager, digest());
    let text = token.to_string();
    let fields: Vec<&str> = text.split('-').collect();
    assert_eq!(fields.len(), 4);
    assert_eq!(fields[0], "SWMTKN");
    assert_eq!(fields[1], "1");
    assert_eq!(fields[2].len(), DIGEST_LEN);
    assert_eq!(fields[3].len(), SECRET_LEN);
    assert_eq!(fields[2], base36::encode(digest().as_bytes(), DIGEST_LEN));
    let parsed = parse(&text).expect("parse");
    assert_eq!(parsed, token);
    assert_eq!(parse(&format!("  {text}\n")).expect("trimmed"), token);
}

#[test]
fn verify_grants_the_matching_role() {
    let secrets = JoinSecrets::generate();
    for role in [Role::Worker, Role::Manager] {
        let token = parse(&secrets.token(role, digest()).to_string()).expect("parse");
        assert_eq!(secrets.verify(&token, &digest()), Ok(role));
    }
    assert_ne!(
        secrets.secret(Role::Worker),
        secrets.secret(Role::Manager),
        "roles have separate secrets"
    );
}

#[test]
fn digest_mismatch_is_detected() {
    let secrets = JoinSecrets::generate();
    let token = secrets.token(Role::Worker, digest());
    let other = CaDigest::of_der(b"another cluster's CA");
    assert_eq!(
        secrets.verify(&token, &other),
        Err(TokenError::DigestMismatch {
            expected: other,
            found: digest()
        })
    );
}

#[test]
fn the_ca_check_alone_gives_the_same_refusal_as_verify() {
    let secrets = JoinSecrets::generate();
    let token = secrets.token(Role::Manager, digest());
    let other = CaDigest::of_der(b"another cluster's CA");
    assert_eq!(token.check_ca(&digest()), Ok(()));
    assert_eq!(
        token.check_ca(&other),
        secrets.verify(&token, &other).map(|_| ())
    );
}

#[test]
fn rotation_invalidates_old_secret_only_for_that_role() {
    let mut secrets = JoinSecrets::generate();
    let old_worker = secrets.token(Role::Worker, digest());
    let manager = secrets.token(Role::Manager, digest());
    secrets.rotate(Role::Worker);
    assert_eq!(
        secrets.verify(&old_worker, &digest()),
        Err(TokenError::InvalidSecret)
    );
    let new_worker = secrets.token(Role::Worker, digest());
    assert_ne!(new_worker, old_worker);
    assert_eq!(secrets.verify(&new_worker, &digest()), Ok(Role::Worker));
    assert_eq!(secrets.verify(&manager, &digest()), Ok(Role::Manager));
}

#[test]
fn unknown_secret_is_rejected() {
    let secrets = JoinSecrets::generate();
    let forged = JoinToken::new(digest(), JoinSecret::generate());
    assert_eq!(
        secrets.verify(&forged, &digest()),
        Err(TokenError::InvalidSecret)
    );
}

#[test]
fn wrong_prefix() {
    let text = valid_token_text().replacen("SWMTKN", "SWMKEY", 1);
    assert_eq!(
        parse(&text),
        Err(TokenError::WrongPrefix {
            found: "SWMKEY".into()
        })
    );
    assert!(matches!(parse(""), Err(TokenError::WrongPrefix { .. })));
    assert!(matches!(
        parse("swmtkn-1-a-b"),
        Err(TokenError::WrongPrefix { .. })
    ));
}

#[test]
fn wrong_version() {
    let text = valid_token_text().replacen("SWMTKN-1-", "SWMTKN-2-", 1);
    assert_eq!(
        parse(&text),
        Err(TokenError::UnsupportedVersion { found: "2".into() })
    );
    assert_eq!(
        parse("SWMTKN"),
        Err(TokenError::UnsupportedVersion { found: "".into() })
    );
}

#[test]
fn wrong_part_count() {
    let text = valid_token_text();
    assert_eq!(
        parse(&format!("{text}-extra")),
        Err(TokenError::WrongPartCount { found: 5 })
    );
    let (head, _secret) = text.rsplit_once('-').expect("dash");
    assert_eq!(parse(head), Err(TokenError::WrongPartCount { found: 3 }));
}

#[test]
fn bad_lengths() {
    let text = valid_token_text();
    let fields: Vec<&str> = text.split('-').collect();
    let short_digest = format!("SWMTKN-1-{}-{}", &fields[2][1..], fields[3]);
    assert_eq!(
        parse(&short_digest),
        Err(TokenError::BadLength {
            part: TokenPart::CaDigest,
            expected: DIGEST_LEN,
            found: DIGEST_LEN - 1
        })
    );
    let long_secret = format!("SWMTKN-1-{}-{}0", fields[2], fields[3]);
    assert_eq!(
        parse(&long_secret),
        Err(TokenError::BadLength {
            part: TokenPart::Secret,
            expected: SECRET_LEN,
            found: SECRET_LEN + 1
        })
    );
}

#[test]
fn bad_charsets() {
    let text = valid_token_text();
    let fields: Vec<&str> = text.split('-').collect();
    let upper_digest = format!("SWMTKN-1-{}A-{}", &fields[2][1..], fields[3]);
    assert_eq!(
        parse(&upper_digest),
        Err(TokenError::BadCharset {
            part: TokenPart::CaDigest,
            position: DIGEST_LEN - 1
        })
    );
    let bad_secret = format!("SWMTKN-1-{}-!{}", fields[2], &fields[3][1..]);
    assert_eq!(
        parse(&bad_secret),
        Err(TokenError::BadCharset {
            part: TokenPart::Secret,
            position: 0
        })
    );
}

#[test]
fn digest_out_of_range() {
    let text = format!(
        "SWMTKN-1-{}-{}",
        "z".repeat(DIGEST_LEN),
        "0".repeat(SECRET_LEN)
    );
    assert_eq!(parse(&text), Err(TokenError::DigestOutOfRange));
}

#[test]
fn secrets_are_random_and_debug_redacts() {
    let a = JoinSecret::generate();
    let b = JoinSecret::generate();
    assert_ne!(a, b);
    let token = JoinToken::new(digest(), a.clone());
    let debug = format!("{token:?} {a:?}");
    assert!(!debug.contains(a.expose()), "{debug}");
    assert_eq!(JoinSecret::parse(a.expose()), Ok(a));
}
