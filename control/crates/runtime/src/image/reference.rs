//! Registry references: `host[:port]/name[:tag]`, `host[:port]/name@sha256:...`
//! or `host[:port]/name:tag@sha256:...` (a pinned tag: the digest decides,
//! as in Docker).
//!
//! There is no default registry (no implicit Docker Hub): the first
//! component must name one, as Docker recognises a registry — it holds a
//! `.` or a `:`, or is `localhost`.

use std::fmt;

use super::{Digest, ImageError, ImageName};

/// The tag pulled when a reference names none.
const DEFAULT_TAG: &str = "latest";

/// What a reference pins in its repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A tag (`latest` when none was given).
    Tag(String),
    /// A manifest digest.
    Digest(Digest),
}

/// A parsed `registry/name[:tag|@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` of the registry.
    pub registry: String,
    /// The repository inside the registry (`team/app`).
    pub repository: String,
    /// Tag or digest.
    pub target: Target,
}

impl Reference {
    /// Parses a reference that names its registry.
    pub fn parse(reference: &str) -> Result<Self, ImageError> {
        let invalid = |reason| ImageError::InvalidReference {
            reference: reference.to_owned(),
            reason,
        };
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, Some(Digest::parse(digest)?)),
            None => (reference, None),
        };
        let (registry, path) = name
            .split_once('/')
            .filter(|(host, _)| host.contains(['.', ':']) || *host == "localhost")
            .ok_or_else(|| invalid("name the registry: host[:port]/name[:tag]"))?;
        let (repository, target) = match (digest, path.rsplit_once(':')) {
            (Some(digest), None) => (path, Target::Digest(digest)),
            // `name:tag@digest` (a spec pinned by `service create`): the
            // digest is what is pulled, the tag only says where it came from.
            (Some(digest), Some((repo, tag))) if !tag.contains('/') => {
                (repo, Target::Digest(digest))
            }
            (Some(_), Some(_)) => return Err(invalid("a digest follows name[:tag]")),
            (None, Some((repo, tag))) if !tag.contains('/') => (repo, Target::Tag(tag.to_owned())),
            (None, _) => (path, Target::Tag(DEFAULT_TAG.to_owned())),
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if !repository.split('/').all(component_ok) {
            return Err(invalid("repository components are [a-z0-9._-]"));
        }
        if let Target::Tag(tag) = &target
            && (tag.is_empty() || tag.len() > 128 || !tag.bytes().all(tag_byte_ok))
        {
            return Err(invalid("a tag is up to 128 of [A-Za-z0-9._-]"));
        }
        Ok(Self {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            target,
        })
    }

    /// The tag or digest as the registry's manifest URL wants it.
    pub fn manifest_ref(&self) -> String {
        match &self.target {
            Target::Tag(tag) => tag.clone(),
            Target::Digest(digest) => digest.to_string(),
        }
    }

    /// The name the image is stored under (`registry/repository:tag`);
    /// none for a digest reference, which is stored untagged.
    pub fn local_name(&self) -> Option<ImageName> {
        match &self.target {
            Target::Tag(tag) => Some(ImageName {
                repository: format!("{}/{}", self.registry, self.repository),
                tag: tag.clone(),
            }),
            Target::Digest(_) => None,
        }
    }

    /// `registry/repository`, as Docker's "Pulling from" line names it.
    pub fn repository_path(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

fn tag_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._-".contains(&b)
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Tag(tag) => write!(f, "{}/{}:{tag}", self.registry, self.repository),
            Target::Digest(d) => write!(f, "{}/{}@{d}", self.registry, self.repository),
        }
    }
}
