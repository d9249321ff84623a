//! Per-call authorisation from the verified peer certificate.

use rustls::pki_types::CertificateDer;

use super::TlsError;
use crate::ca::{NodeIdentity, Role};

/// Authorises calls by the identity in a peer certificate that the TLS
/// handshake has already verified against the cluster CA.
#[derive(Debug, Clone)]
pub struct Authorizer {
    cluster_id: String,
}

impl Authorizer {
    /// An authoriser for the cluster `cluster_id`.
    pub fn new(cluster_id: impl Into<String>) -> Self {
        Self {
            cluster_id: cluster_id.into(),
        }
    }

    /// Extracts the peer's identity and checks that it may make a call
    /// requiring `required`.
    ///
    /// Managers also run agents, so a manager satisfies [`Role::Worker`];
    /// only managers satisfy [`Role::Manager`].
    pub fn authorize(
        &self,
        peer_certificates: Option<&[CertificateDer<'_>]>,
        required: Role,
    ) -> Result<NodeIdentity, TlsError> {
        let leaf = peer_certificates
            .and_then(<[_]>::first)
            .ok_or(TlsError::NoPeerCertificate)?;
        let identity =
            NodeIdentity::from_der(leaf).map_err(|source| TlsError::PeerIdentity { source })?;
        if identity.cluster_id != self.cluster_id {
            return Err(TlsError::WrongCluster {
                node_id: identity.node_id,
                expected: self.cluster_id.clone(),
                found: identity.cluster_id,
            });
        }
        if required == Role::Manager && identity.role != Role::Manager {
            return Err(TlsError::RoleNotAllowed {
                node_id: identity.node_id,
                role: identity.role,
                required,
            });
        }
        Ok(identity)
    }

    /// [`Self::authorize`] for an accepted tokio-rustls server stream.
    pub fn authorize_stream<IO>(
        &self,
        stream: &tokio_rustls::server::TlsStream<IO>,
        required: Role,
    ) -> Result<NodeIdentity, TlsError> {
        self.authorize(stream.get_ref().1.peer_certificates(), required)
    }
}
