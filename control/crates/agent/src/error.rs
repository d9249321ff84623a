//! Errors of the [`crate`] module.

use std::net::Ipv4Addr;

use shoal_runtime::RuntimeError;

/// Why the agent could not do something with a task or the data plane.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A task names a secret its assignment does not carry.
    #[error("secret not found: {name}")]
    SecretNotFound {
        /// The secret's name.
        name: String,
    },
    /// A secret's value is not base64.
    #[error("secret {name} is not valid base64")]
    SecretEncoding {
        /// The secret's name.
        name: String,
        /// The decoding error.
        #[source]
        source: base64::DecodeError,
    },
    /// `--init` on a node without an init binary.
    #[error("--init: this node has no init to run as the container's PID 1 (install tini: {path})")]
    NoInit {
        /// Where it was looked for.
        path: &'static str,
    },
    /// A task names a config its assignment does not carry.
    #[error("config not found: {name}")]
    ConfigNotFound {
        /// The config's name.
        name: String,
    },
    /// A config's value is not base64.
    #[error("config {name} is not valid base64")]
    ConfigEncoding {
        /// The config's name.
        name: String,
        /// The decoding error.
        #[source]
        source: base64::DecodeError,
    },
    /// The task's image could not be pulled.
    #[error("pull of {image} failed")]
    Pull {
        /// The image reference.
        image: String,
        /// Why.
        #[source]
        source: shoal_runtime::image::ImageError,
    },
    /// The container runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The node's addresses could not be listed.
    #[error("cannot list the node's addresses (ip -j -4 addr show)")]
    Addresses {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `ip -j addr` printed something unexpected.
    #[error("unexpected output of ip -j -4 addr show")]
    AddressesOutput {
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// No interface holds the node's advertised address.
    #[error("no interface holds the node's address {ip}: cannot choose the underlay")]
    NoUnderlay {
        /// The address.
        ip: Ipv4Addr,
    },
    /// Programming the data plane failed.
    #[error("data plane")]
    Dataplane(#[from] shoal_dataplane::node::ApplyError),
    /// A blocking job panicked.
    #[error("{what} panicked")]
    Panicked {
        /// What it was doing.
        what: &'static str,
    },
}
