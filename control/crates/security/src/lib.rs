//! The security foundations of shoal's control plane: the cluster CA and
//! node certificates ([`ca`]), join tokens ([`token`]), mutual TLS and its
//! authorisation ([`tls`]) and sealing data at rest ([`seal`]). It may
//! depend on `shoal-model` only.

pub mod ca;
pub mod seal;
pub mod tls;
pub mod token;
