//! shoal control plane library: security foundations (CA, join tokens, TLS, sealing).

pub mod ca;
pub mod raft;
pub mod seal;
pub mod tls;
pub mod token;
