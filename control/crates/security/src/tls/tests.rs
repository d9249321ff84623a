//! Real TLS handshakes over 127.0.0.1 between nodes of a test cluster.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;
use crate::ca::{
    CaDigest, CertValidity, DEFAULT_NODE_CERT_EXPIRY, DEFAULT_ROOT_EXPIRY, NodeCertificate,
    NodeIdentity, NodeKey, Role, RootCa,
};

const CLUSTER: &str = "testcluster";
const TIMEOUT: Duration = Duration::from_secs(10);

/// What the server saw of one connection.
#[derive(Debug)]
enum ServerOutcome {
    HandshakeFailed(std::io::Error),
    Denied(TlsError),
    Allowed(NodeIdentity),
}

struct Node {
    key: NodeKey,
    cert: NodeCertificate,
}

fn issue(ca: &RootCa, node_id: &str, role: Role) -> Node {
    let validity = CertValidity::from_now(DEFAULT_NODE_CERT_EXPIRY).expect("validity");
    let (key, cert) = ca
        .issue_with_new_key(node_id, role, validity)
        .expect("issue");
    Node { key, cert }
}

fn new_ca() -> RootCa {
    RootCa::create(CLUSTER, DEFAULT_ROOT_EXPIRY).expect("root CA")
}

fn manager_server(ca: &RootCa, client_auth: ClientAuth) -> Arc<ServerConfig> {
    let node = issue(ca, "manager1", Role::Manager);
    server_config(ca.cert(), &node.cert, &node.key, client_auth).expect("server config")
}

fn client_of(ca: &RootCa, node: &Node) -> Arc<ClientConfig> {
    client_config(ca.cert(), &node.cert, &node.key).expect("client config")
}

/// Accepts one connection, authorises it for `required` and answers "ok".
async fn serve_once(
    config: Arc<ServerConfig>,
    required: Role,
) -> (SocketAddr, tokio::task::JoinHandle<ServerOutcome>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut stream = match TlsAcceptor::from(config).accept(tcp).await {
            Ok(stream) => stream,
            Err(err) => return ServerOutcome::HandshakeFailed(err),
        };
        match Authorizer::new(CLUSTER).authorize_stream(&stream, required) {
            Ok(identity) => {
                stream.write_all(b"ok").await.expect("write");
                stream.shutdown().await.expect("shutdown");
                ServerOutcome::Allowed(identity)
            }
            Err(err) => ServerOutcome::Denied(err),
        }
    });
    (addr, handle)
}

/// Connects, and returns what the server answered.
async fn call(config: Arc<ClientConfig>, addr: SocketAddr) -> std::io::Result<Vec<u8>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(MANAGER_SERVER_NAME).expect("server name");
    let mut stream = TlsConnector::from(config).connect(name, tcp).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

/// Runs one call against a one-shot server; returns (client result, server outcome).
async fn exchange(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    required: Role,
) -> (std::io::Result<Vec<u8>>, ServerOutcome) {
    let (addr, server) = serve_once(server, required).await;
    let client = tokio::time::timeout(TIMEOUT, call(client, addr))
        .await
        .expect("client timed out");
    let outcome = tokio::time::timeout(TIMEOUT, server)
        .await
        .expect("server timed out")
        .expect("server task");
    (client, outcome)
}

fn rustls_error(err: &std::io::Error) -> Option<&rustls::Error> {
    err.get_ref()?.downcast_ref::<rustls::Error>()
}

#[tokio::test]
async fn manager_cert_is_accepted_for_manager_call() {
    let ca = new_ca();
    let node = issue(&ca, "manager2", Role::Manager);
    let server = manager_server(&ca, ClientAuth::Required);
    let (client, outcome) = exchange(server, client_of(&ca, &node), Role::Manager).await;
    assert_eq!(client.expect("client"), b"ok");
    let ServerOutcome::Allowed(identity) = outcome else {
        panic!("expected allowed, got {outcome:?}");
    };
    assert_eq!(identity.node_id, "manager2");
    assert_eq!(identity.role, Role::Manager);
    assert_eq!(identity.cluster_id, CLUSTER);
}

#[tokio::test]
async fn worker_cert_is_refused_for_manager_call_but_allowed_for_worker_call() {
    let ca = new_ca();
    let node = issue(&ca, "worker1", Role::Worker);
    let server = manager_server(&ca, ClientAuth::Required);
    let (client, outcome) = exchange(server.clone(), client_of(&ca, &node), Role::Manager).await;
    assert!(client.map_or(true, |answer| answer != b"ok"));
    assert!(
        matches!(
            &outcome,
            ServerOutcome::Denied(TlsError::RoleNotAllowed {
                role: Role::Worker,
                required: Role::Manager,
                ..
            })
        ),
        "{outcome:?}"
    );
    let (client, outcome) = exchange(server, client_of(&ca, &node), Role::Worker).await;
    assert_eq!(client.expect("client"), b"ok");
    assert!(matches!(outcome, ServerOutcome::Allowed(_)), "{outcome:?}");
}

#[tokio::test]
async fn cert_from_another_ca_is_refused() {
    let ca = new_ca();
    let rogue_ca = new_ca(); // same cluster name, different key: still a stranger
    let rogue = issue(&rogue_ca, "manager9", Role::Manager);
    let client = client_config(ca.cert(), &rogue.cert, &rogue.key).expect("client config");
    let (client, outcome) = exchange(
        manager_server(&ca, ClientAuth::Required),
        client,
        Role::Manager,
    )
    .await;
    assert!(client.is_err(), "client must not get an answer");
    let ServerOutcome::HandshakeFailed(err) = outcome else {
        panic!("expected handshake failure, got {outcome:?}");
    };
    assert!(
        matches!(
            rustls_error(&err),
            // Same subject DN as the real CA, so webpki finds the "issuer"
            // and fails on its signature.
            Some(rustls::Error::InvalidCertificate(
                CertificateError::BadSignature | CertificateError::UnknownIssuer
            ))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn client_refuses_server_from_another_ca() {
    let ca = new_ca();
    let rogue_ca = new_ca();
    let node = issue(&ca, "worker1", Role::Worker);
    let (client, _outcome) = exchange(
        manager_server(&rogue_ca, ClientAuth::Optional),
        client_of(&ca, &node),
        Role::Worker,
    )
    .await;
    let err = client.expect_err("must refuse");
    assert!(
        matches!(
            rustls_error(&err),
            // Same subject DN as the real CA, so webpki finds the "issuer"
            // and fails on its signature.
            Some(rustls::Error::InvalidCertificate(
                CertificateError::BadSignature | CertificateError::UnknownIssuer
            ))
        ),
        "{err:?}"
    );
}

fn client_without_cert(ca: &RootCa) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert().der().clone()).expect("add root");
    Arc::new(
        ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[tokio::test]
async fn missing_client_cert_is_refused() {
    let ca = new_ca();
    let (client, outcome) = exchange(
        manager_server(&ca, ClientAuth::Required),
        client_without_cert(&ca),
        Role::Worker,
    )
    .await;
    assert!(client.is_err());
    let ServerOutcome::HandshakeFailed(err) = outcome else {
        panic!("expected handshake failure, got {outcome:?}");
    };
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::NoCertificatesPresented)
        ),
        "{err:?}"
    );
    // Where certificates are optional (join endpoint), calls still need one.
    let (_client, outcome) = exchange(
        manager_server(&ca, ClientAuth::Optional),
        client_without_cert(&ca),
        Role::Worker,
    )
    .await;
    assert!(
        matches!(outcome, ServerOutcome::Denied(TlsError::NoPeerCertificate)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn expired_client_cert_is_refused() {
    let ca = new_ca();
    let now = time::OffsetDateTime::now_utc();
    let validity = CertValidity::new(now - time::Duration::days(2), now - time::Duration::days(1))
        .expect("validity");
    let (key, cert) = ca
        .issue_with_new_key("manager3", Role::Manager, validity)
        .expect("issue");
    let client = client_config(ca.cert(), &cert, &key).expect("client config");
    let (client, outcome) = exchange(
        manager_server(&ca, ClientAuth::Required),
        client,
        Role::Manager,
    )
    .await;
    assert!(client.is_err());
    let ServerOutcome::HandshakeFailed(err) = outcome else {
        panic!("expected handshake failure, got {outcome:?}");
    };
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            ))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn bootstrap_client_with_token_digest_joins() {
    let ca = new_ca();
    // As a joining node would: from the printed token string only.
    let token_text = crate::token::JoinSecrets::generate()
        .token(Role::Worker, ca.cert().digest())
        .to_string();
    let token: crate::token::JoinToken = token_text.parse().expect("token");
    let bootstrap = bootstrap_client_config(*token.ca_digest()).expect("bootstrap config");
    let (addr, server) = serve_once(manager_server(&ca, ClientAuth::Optional), Role::Worker).await;
    // The server refuses the unauthenticated call, but only after the client
    // has accepted the server: the handshake itself must succeed.
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from(MANAGER_SERVER_NAME).expect("name");
    let stream = TlsConnector::from(bootstrap).connect(name, tcp).await;
    assert!(stream.is_ok(), "{:?}", stream.err());
    let outcome = server.await.expect("server task");
    assert!(
        matches!(outcome, ServerOutcome::Denied(TlsError::NoPeerCertificate)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn bootstrap_client_with_wrong_digest_refuses_server() {
    let ca = new_ca();
    let wrong = CaDigest::of_der(b"some other cluster's CA");
    let bootstrap = bootstrap_client_config(wrong).expect("bootstrap config");
    let (client, _outcome) = exchange(
        manager_server(&ca, ClientAuth::Optional),
        bootstrap,
        Role::Worker,
    )
    .await;
    let err = client.expect_err("must refuse the server");
    let Some(rustls::Error::InvalidCertificate(CertificateError::Other(other))) =
        rustls_error(&err)
    else {
        panic!("unexpected error {err:?}");
    };
    let inner = other.0.downcast_ref::<TlsError>().expect("our error");
    assert!(
        matches!(inner, TlsError::CaDigestMismatch { expected, presented }
            if *expected == wrong && presented == &[ca.cert().digest()]),
        "{inner:?}"
    );
}

#[tokio::test]
async fn bootstrap_client_refuses_impostor_presenting_the_real_ca_cert() {
    // An impostor can copy the real CA certificate (it is public) into its
    // chain, but cannot get a leaf signed by it.
    let ca = new_ca();
    let rogue_ca = new_ca();
    let rogue = issue(&rogue_ca, "manager1", Role::Manager);
    let mut config = (*server_config(
        rogue_ca.cert(),
        &rogue.cert,
        &rogue.key,
        ClientAuth::Optional,
    )
    .expect("server config"))
    .clone();
    let certified = rustls::sign::CertifiedKey::from_der(
        vec![rogue.cert.der().clone(), ca.cert().der().clone()],
        rogue.key.private_key_der(),
        &crypto_provider(),
    )
    .expect("certified key");
    config.cert_resolver = Arc::new(rustls::sign::SingleCertAndKey::from(certified));
    let bootstrap = bootstrap_client_config(ca.cert().digest()).expect("bootstrap config");
    let (client, _outcome) = exchange(Arc::new(config), bootstrap, Role::Worker).await;
    let err = client.expect_err("must refuse the impostor");
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::BadSignature | CertificateError::UnknownIssuer
            ))
        ),
        "{err:?}"
    );
}

#[test]
fn authorizer_rejects_other_cluster_and_garbage() {
    let other = RootCa::create("othercluster", DEFAULT_ROOT_EXPIRY).expect("root CA");
    let node = issue(&other, "manager1", Role::Manager);
    let authorizer = Authorizer::new(CLUSTER);
    let certs = [node.cert.der().clone()];
    assert!(matches!(
        authorizer.authorize(Some(&certs), Role::Worker),
        Err(TlsError::WrongCluster { .. })
    ));
    let garbage = [rustls::pki_types::CertificateDer::from(vec![1, 2, 3])];
    assert!(matches!(
        authorizer.authorize(Some(&garbage), Role::Worker),
        Err(TlsError::PeerIdentity { .. })
    ));
    assert!(matches!(
        authorizer.authorize(None, Role::Worker),
        Err(TlsError::NoPeerCertificate)
    ));
}
