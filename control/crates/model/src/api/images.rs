//! Bodies of the image removal routes (act on the node the CLI talks to):
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /images/remove` | [`ImageRemoveRequest`] | [`ImagesRemovedView`] (409 when a container uses it) |
//! | `POST /images/prune` | [`ImagePruneRequest`] | [`ImagesRemovedView`] |

use serde::{Deserialize, Serialize};

/// `shoal image rm`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRemoveRequest {
    /// `repo[:tag]`, `repo@sha256:...`, an image id or a unique prefix.
    pub reference: String,
}

/// `shoal image prune`'s body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePruneRequest {
    /// Every image no container uses, not only untagged ones.
    #[serde(default)]
    pub all: bool,
}

/// What a removal did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagesRemovedView {
    /// Names taken away (`Untagged:` lines).
    pub untagged: Vec<String>,
    /// Manifest digests of the images deleted (`Deleted:` lines).
    pub deleted: Vec<String>,
    /// Bytes freed.
    pub reclaimed: u64,
}
