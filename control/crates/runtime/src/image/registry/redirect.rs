//! Where a redirect may lead: registries send blobs to other hosts (a
//! CDN, object storage), but never from https down to plain http unless
//! the registry is insecure.

use hyper::Uri;

use super::RegistryError;

/// The absolute URL `location` points to from `current`; plain http only
/// when `http_allowed`.
pub(super) fn redirect_target(
    current: &str,
    location: &str,
    http_allowed: bool,
) -> Result<String, RegistryError> {
    let bad = |reason| RegistryError::BadRedirect {
        url: current.to_owned(),
        reason,
    };
    let next: Uri = location.parse().map_err(|_| bad("unparsable Location"))?;
    match (next.scheme_str(), next.authority()) {
        (Some("https"), Some(_)) => Ok(next.to_string()),
        (Some("http"), Some(_)) if http_allowed => Ok(next.to_string()),
        (Some("http"), Some(_)) => Err(bad(
            "it leads to plain http, allowed only for insecure registries",
        )),
        (None, None) if location.starts_with('/') => {
            let base: Uri = current.parse().map_err(|_| bad("unparsable URL"))?;
            let scheme = base.scheme_str().unwrap_or("https");
            let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
            Ok(format!("{scheme}://{authority}{location}"))
        }
        _ => Err(bad("unsupported Location")),
    }
}

#[cfg(test)]
mod tests {
    use super::redirect_target;

    #[test]
    fn redirects_stay_on_https_unless_the_registry_is_insecure() {
        let from = "https://reg.example:5000/v2/app/blobs/sha256:ab";
        assert_eq!(
            redirect_target(from, "https://cdn.example/b?sig=1", false).unwrap(),
            "https://cdn.example/b?sig=1"
        );
        assert_eq!(
            redirect_target(from, "/v2/other", false).unwrap(),
            "https://reg.example:5000/v2/other"
        );
        assert!(redirect_target(from, "http://cdn.example/b", false).is_err());
        assert_eq!(
            redirect_target(from, "http://cdn.example/b", true).unwrap(),
            "http://cdn.example/b"
        );
        assert!(redirect_target(from, "ftp://x/y", true).is_err());
        assert!(redirect_target(from, "relative/path", true).is_err());
    }
}
