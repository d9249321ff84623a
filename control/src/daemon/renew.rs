//! Certificate renewal: each node asks a manager for a new certificate
//! (same node ID and key, the role the store wants) once two thirds of
//! the lifetime have passed, and swaps it into its TLS configs without
//! dropping a connection.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;

use super::DaemonError;
use super::calls::call_managers;
use super::core::{Active, lock};
use super::grant;
use crate::ca::persist::save_node_cert;
use crate::ca::{CaError, NodeCertificate};
use crate::ctl::{CtlRequest, RenewGrant};

/// How often the renewer checks the certificate.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Whether a certificate expiring at `not_after` is due for renewal: less
/// than a third of its lifetime (`expiry_secs`) is left.
pub fn renewal_due(not_after: OffsetDateTime, expiry_secs: u64, now: OffsetDateTime) -> bool {
    let remaining = (not_after - now).whole_seconds();
    let third = i64::try_from(expiry_secs / 3).unwrap_or(i64::MAX);
    remaining < third
}

/// Parses a PEM certificate.
pub(crate) fn cert_from_pem(pem: &str) -> Result<NodeCertificate, DaemonError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|source| CaError::Pem {
        what: "node certificate",
        source,
    })?;
    Ok(NodeCertificate::from_der(der.to_vec()))
}

/// The renewal loop of one node.
pub(crate) async fn renewer(active: Arc<Active>) {
    loop {
        tokio::time::sleep(CHECK_INTERVAL).await;
        let expiry = active.node_state().cert_expiry_secs;
        let not_after = match lock(&active.cert).identity() {
            Ok(identity) => identity.not_after,
            Err(err) => {
                log::warn!("cannot read own certificate: {err}");
                continue;
            }
        };
        if renewal_due(not_after, expiry, OffsetDateTime::now_utc()) {
            match renew_now(&active, false).await {
                Ok(_) => log::info!("certificate renewed"),
                Err(err) => log::warn!("certificate renewal: {}", err.full_message()),
            }
        }
    }
}

/// Gets a new certificate now and puts it in use.
///
/// A manager signs its own renewal from its replica of the store unless
/// `ask_leader` is set (a role change: a demoted manager's replica is stale,
/// as it no longer receives the log).
pub(crate) async fn renew_now(
    active: &Active,
    ask_leader: bool,
) -> Result<RenewGrant, DaemonError> {
    let node_id = active.node_state().node_id;
    let csr_der = active.key.csr_der(&node_id)?;
    let local = active
        .manager
        .as_ref()
        .filter(|m| !ask_leader && m.is_member());
    let grant = match local {
        Some(manager) => grant::renew(manager, &node_id, &csr_der)?,
        None => {
            let value = call_managers(
                active,
                &CtlRequest::Renew { csr_der },
                Duration::from_secs(10),
            )
            .await?;
            serde_json::from_value(value).map_err(DaemonError::codec("renewed certificate"))?
        }
    };
    install(active, &cert_from_pem(&grant.cert_pem)?)?;
    Ok(grant)
}

/// Saves `cert` and makes TLS present it from the next handshake on.
fn install(active: &Active, cert: &NodeCertificate) -> Result<(), DaemonError> {
    let identity = cert.identity()?;
    if identity.node_id != active.node_state().node_id {
        return Err(DaemonError::Ca(CaError::MissingSubjectField {
            field: "CN",
        }));
    }
    // Same key: only the certificate is rewritten (the key file may be
    // sealed under autolock).
    save_node_cert(cert, &active.paths.cert_dir())?;
    active.live.swap(&active.ca, cert, &active.key)?;
    *lock(&active.cert) = cert.clone();
    // Pooled connections still present the old certificate, and managers
    // take the expiry (and role) from the presented one.
    active.ctl.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_in_the_last_third_of_the_lifetime() {
        let now = OffsetDateTime::now_utc();
        let day = 86_400;
        let in_days = |d: i64| now + time::Duration::days(d);
        assert!(!renewal_due(in_days(90), 90 * day, now));
        assert!(!renewal_due(in_days(31), 90 * day, now));
        assert!(renewal_due(in_days(29), 90 * day, now));
        assert!(renewal_due(now - time::Duration::seconds(1), 90 * day, now));
    }
}
