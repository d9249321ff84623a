//! The daemon's REST/JSON API (Docker Engine API style, over a Unix socket):
//! the request and response bodies (the client the CLI uses is in
//! `shoal-control`).
//!
//! Errors come back with a proper HTTP status and a body `{"message": ...}`.

mod images;
mod registry;
mod services;
mod types;

pub use images::{ImagePruneRequest, ImageRemoveRequest, ImagesRemovedView};
pub use registry::{RegistryLoginRequest, RegistryLoginResponse, RegistryLogoutRequest};
pub use services::{
    ConfigCreateRequest, ConfigUpdateRequest, ConfigView, ImagePullRequest, ImageView, KeyRotation,
    LoadedImageView, NetworkCreateRequest, SecretCreateRequest, SecretView, ServiceCreateResponse,
    ServiceUpdateRequest, ServiceView, TaskLogs, TaskView,
};
pub use types::{
    ErrorBody, InitRequest, InitResponse, JoinRequest, JoinResponse, JoinTokenResponse, NodeView,
    SwarmInfo, SwarmState, SwarmUpdateRequest, UnlockKeyResponse, UnlockRequest, VolumeView,
};
