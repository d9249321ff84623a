//! Docker's `X-Registry-Auth` header (`docker service create/update
//! --with-registry-auth`): base64url JSON `{"username", "password",
//! "serveraddress"}`, kept as the service's registry login like shoal's
//! own `--with-registry-auth`.

use axum::http::HeaderMap;
use base64::Engine as _;
use serde::Deserialize;

use crate::runtime::image::registry_of;
use crate::spec::RegistryAuth;

/// The header's name.
const HEADER: &str = "x-registry-auth";

#[derive(Deserialize)]
struct AuthConfig {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "serveraddress")]
    server_address: String,
}

/// The login the header carries for the registry of `image`; `None`
/// without a header, with an empty or undecodable one (Docker sends `e30=`,
/// `{}`, when it has no login), or for an image without a registry.
pub(super) fn from_headers(headers: &HeaderMap, image: &str) -> Option<RegistryAuth> {
    let value = headers.get(HEADER)?.to_str().ok()?.trim();
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(value)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(value))
        .ok()?;
    let config: AuthConfig = serde_json::from_slice(&bytes).ok()?;
    if config.username.is_empty() {
        return None;
    }
    let registry = registry_of(image)?;
    let given = config.server_address.trim_start_matches("https://");
    if !given.is_empty() && given.trim_end_matches('/') != registry {
        return None;
    }
    Some(RegistryAuth {
        registry,
        username: config.username,
        password: config.password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(json: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = base64::engine::general_purpose::URL_SAFE.encode(json);
        headers.insert(HEADER, value.parse().unwrap());
        headers
    }

    #[test]
    fn a_login_for_the_image_registry_is_kept_others_are_not() {
        let login = r#"{"username":"alice","password":"pw","serveraddress":"reg.example:5000"}"#;
        let auth = from_headers(&headers(login), "reg.example:5000/app:1").unwrap();
        assert_eq!(
            (
                auth.registry.as_str(),
                auth.username.as_str(),
                auth.password.as_str()
            ),
            ("reg.example:5000", "alice", "pw")
        );
        assert!(from_headers(&headers(login), "other.example/app:1").is_none());
        assert!(from_headers(&headers("{}"), "reg.example:5000/app:1").is_none());
        assert!(from_headers(&HeaderMap::new(), "reg.example:5000/app:1").is_none());
        assert!(
            from_headers(&headers(login), "app:1").is_none(),
            "no registry"
        );
    }
}
