//! Engine API versions: what shoal speaks and the `/v1.NN` path prefix.

use std::fmt;

/// An Engine API version (`1.47`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ApiVersion {
    major: u32,
    minor: u32,
}

/// The oldest version served (Docker's own minimum).
pub(crate) const MIN: ApiVersion = ApiVersion {
    major: 1,
    minor: 24,
};
/// The newest version served: `/_ping` advertises it and clients negotiate
/// down to it (Docker 27's API; newer clients speak it too).
pub(crate) const MAX: ApiVersion = ApiVersion {
    major: 1,
    minor: 47,
};

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A version prefix shoal does not serve, in Docker's words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum VersionError {
    /// Older than [`MIN`].
    #[error(
        "client version {0} is too old. Minimum supported API version is {MIN}, please upgrade your client to a newer version"
    )]
    TooOld(ApiVersion),
    /// Newer than [`MAX`].
    #[error("client version {0} is too new. Maximum supported API version is {MAX}")]
    TooNew(ApiVersion),
}

/// Splits `/v1.NN/rest` into its version and `/rest`; `None` when `path`
/// has no version prefix, an error when the version is not served.
pub(crate) fn split(path: &str) -> Option<Result<(ApiVersion, &str), VersionError>> {
    let after = path.strip_prefix("/v")?;
    let (number, rest) = match after.find('/') {
        Some(at) => after.split_at(at),
        None => (after, "/"),
    };
    let (major, minor) = number.split_once('.')?;
    let version = ApiVersion {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
    };
    Some(if version < MIN {
        Err(VersionError::TooOld(version))
    } else if version > MAX {
        Err(VersionError::TooNew(version))
    } else {
        Ok((version, rest))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_split_and_checked() {
        let v = |minor| ApiVersion { major: 1, minor };
        assert_eq!(split("/v1.41/nodes"), Some(Ok((v(41), "/nodes"))));
        assert_eq!(
            split("/v1.47/nodes/abc?x=1"),
            Some(Ok((v(47), "/nodes/abc?x=1")))
        );
        assert_eq!(split("/v1.24"), Some(Ok((v(24), "/"))));
        assert_eq!(
            split("/v1.12/nodes"),
            Some(Err(VersionError::TooOld(v(12))))
        );
        assert_eq!(
            split("/v1.99/nodes"),
            Some(Err(VersionError::TooNew(v(99))))
        );
        for unversioned in ["/nodes", "/volumes", "/v1/nodes", "/vx.y/nodes", "/"] {
            assert_eq!(split(unversioned), None, "{unversioned}");
        }
        assert!(
            VersionError::TooOld(v(12)).to_string().starts_with(
                "client version 1.12 is too old. Minimum supported API version is 1.24"
            )
        );
    }
}
