//! Registry authentication as the Docker Registry v2 API does it: a 401
//! names its scheme in `WWW-Authenticate`. `Basic`: the login goes along
//! with every request. `Bearer realm=...,service=...,scope=...`: the
//! login (or nothing, for anonymous pulls) buys a token at the realm,
//! which then goes along instead.

use base64::Engine as _;
use hyper::StatusCode;
use hyper::header::{AUTHORIZATION, HeaderValue};

use super::transport::Transport;
use super::{RegistryError, read_limited};
use crate::image::access::Credentials;

/// Largest token response read.
const MAX_TOKEN_BYTES: u64 = 64 << 10;

/// What a 401's `WWW-Authenticate` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Challenge {
    /// HTTP Basic: send the login.
    Basic,
    /// A token from `realm` for `service` and `scope`.
    Bearer {
        /// The token endpoint (a URL).
        realm: String,
        /// The `service` parameter, passed back.
        service: Option<String>,
        /// The `scope` parameter (`repository:name:pull`), passed back.
        scope: Option<String>,
    },
}

/// Parses `Basic realm="..."` or `Bearer realm="...",service="...",scope="..."`.
pub(super) fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, rest) = header
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((header.trim(), ""));
    let params = parse_params(rest);
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    };
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: param("realm")?,
            service: param("service"),
            scope: param("scope"),
        }),
        _ => None,
    }
}

/// `key=value` or `key="quoted, value"` pairs separated by commas.
fn parse_params(text: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').unwrap_or(quoted.len());
                (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        params.push((key, value.trim().to_owned()));
        rest = next.trim_start().trim_start_matches(',');
    }
    params
}

/// `Basic base64(user:password)`.
pub(super) fn basic(credentials: &Credentials) -> HeaderValue {
    let pair = format!("{}:{}", credentials.username, credentials.password);
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// The `Authorization` value answering `challenge`; `None` when it needs
/// a login and there is none. `default_scope` is asked for when the
/// challenge names no scope (the `/v2/` ping's does not).
pub(super) async fn authorize(
    transport: &Transport,
    challenge: &Challenge,
    credentials: Option<&Credentials>,
    http_allowed: bool,
    default_scope: Option<&str>,
) -> Result<Option<HeaderValue>, RegistryError> {
    let (realm, service, scope) = match challenge {
        Challenge::Basic => return Ok(credentials.map(basic)),
        Challenge::Bearer {
            realm,
            service,
            scope,
        } => (realm, service, scope.as_deref().or(default_scope)),
    };
    let realm_ok = realm.starts_with("https://") || (http_allowed && realm.starts_with("http://"));
    if !realm_ok {
        return Err(RegistryError::InsecureRealm {
            realm: realm.clone(),
        });
    }
    let mut query = Vec::new();
    if let Some(service) = service {
        query.push(format!("service={}", encode_query(service)));
    }
    if let Some(scope) = scope {
        query.push(format!("scope={}", encode_query(scope)));
    }
    let sep = if realm.contains('?') { '&' } else { '?' };
    let url = match query.is_empty() {
        true => realm.clone(),
        false => format!("{realm}{sep}{}", query.join("&")),
    };
    let headers: Vec<_> = credentials
        .map(|c| (AUTHORIZATION, basic(c)))
        .into_iter()
        .collect();
    let response = transport.get(&url, &headers).await?;
    match response.status() {
        status if status.is_success() => {}
        StatusCode::UNAUTHORIZED if credentials.is_none() => return Ok(None),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            return Err(RegistryError::CredentialsRefused { url });
        }
        status => {
            return Err(RegistryError::Status {
                url,
                status: status.as_u16(),
                message: "token request failed".to_owned(),
            });
        }
    }
    let body = read_limited(&url, response, MAX_TOKEN_BYTES).await?;
    token_header(&url, &body).map(Some)
}

/// `Bearer <token>` from a token response (`token`, or OAuth's
/// `access_token`).
fn token_header(url: &str, body: &[u8]) -> Result<HeaderValue, RegistryError> {
    #[derive(serde::Deserialize)]
    struct TokenResponse {
        #[serde(default)]
        token: String,
        #[serde(default)]
        access_token: String,
    }
    let bad = || RegistryError::BadToken {
        url: url.to_owned(),
    };
    let parsed: TokenResponse = serde_json::from_slice(body).map_err(|_| bad())?;
    let token = match parsed.token.is_empty() {
        true => parsed.access_token,
        false => parsed.token,
    };
    if token.is_empty() {
        return Err(bad());
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| bad())?;
    value.set_sensitive(true);
    Ok(value)
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved).
fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Challenge, encode_query, parse_challenge};

    #[test]
    fn challenges_parse_as_registries_send_them() {
        let header = r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push""#;
        assert_eq!(
            parse_challenge(header),
            Some(Challenge::Bearer {
                realm: "https://auth.example.com/token".to_owned(),
                service: Some("registry.example.com".to_owned()),
                scope: Some("repository:team/app:pull,push".to_owned()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Bearer service=x"), None, "no realm");
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(
            encode_query("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }
}
