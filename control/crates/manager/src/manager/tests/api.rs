//! API operations on a real store: what they store, and what they refuse
//! (with which status) without changing anything.

use base64::Engine;

use super::live::TestLeader;
use crate::manager::{Leadership, ManagerError, api, pass_once};
use shoal_model::api::{
    NetworkCreateRequest, SecretCreateRequest, ServiceUpdateRequest, ServiceView,
};
use shoal_model::spec::{PortConfig, Protocol, PublishMode, SecretRef, ServiceMode, ServiceSpec};

fn network(name: &str, subnet: Option<&str>) -> NetworkCreateRequest {
    NetworkCreateRequest {
        name: name.to_owned(),
        subnet: subnet.map(str::to_owned),
        ..NetworkCreateRequest::default()
    }
}

fn secret(name: &str, value: &[u8]) -> SecretCreateRequest {
    SecretCreateRequest {
        name: name.to_owned(),
        data_b64: base64::engine::general_purpose::STANDARD.encode(value),
        ..SecretCreateRequest::default()
    }
}

fn published(spec: &mut ServiceSpec, port: u16) {
    spec.ports.push(PortConfig {
        published: port,
        target: 80,
        protocol: Protocol::Tcp,
        mode: PublishMode::Ingress,
    });
}

/// The status of a refusal, after checking the store did not change.
async fn refused<T: std::fmt::Debug>(
    leader: &TestLeader,
    result: Result<T, ManagerError>,
) -> (u16, String) {
    let before = leader.store().applied_index();
    let err = result.expect_err("the request is refused");
    assert_eq!(
        leader.store().applied_index(),
        before,
        "nothing was written"
    );
    (err.status(), err.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networks_are_created_once_and_removed_only_when_unused() {
    let leader = TestLeader::start().await;
    let created = api::create_network(&*leader, network("backend", Some("10.9.0.0/24")))
        .await
        .unwrap();
    assert_eq!(created.subnet, "10.9.0.0/24");
    assert!(created.vni >= 4096);
    let tables = leader.tables();
    assert!(
        tables.network_named("ingress").is_some(),
        "ingress comes first"
    );
    assert!(tables.allocator.unwrap().networks.contains_key("backend"));

    let again = api::create_network(&*leader, network("backend", None)).await;
    assert_eq!(refused(&leader, again).await.0, 409);
    let overlap = api::create_network(&*leader, network("other", Some("10.9.0.128/25"))).await;
    let (status, message) = refused(&leader, overlap).await;
    assert_eq!(status, 400);
    assert!(message.contains("overlaps"), "{message}");
    let bad = api::create_network(&*leader, network("other", Some("10.9.0.0"))).await;
    assert_eq!(refused(&leader, bad).await.0, 400);
    let mut macvlan = network("other", None);
    macvlan.driver = Some("macvlan".to_owned());
    let driver = api::create_network(&*leader, macvlan).await;
    assert_eq!(refused(&leader, driver).await.0, 400);
    // --opt encrypted is kept on the row (the agent steers the network's
    // traffic through WireGuard).
    let mut secure = network("secure", None);
    secure.encrypted = true;
    api::create_network(&*leader, secure).await.unwrap();
    let row = leader.tables().network_named("secure").cloned().unwrap();
    assert!(row.encrypted, "{row:?}");
    // --internal is kept on the row (the agent turns it into "no egress").
    let mut closed = network("closed", None);
    closed.internal = true;
    api::create_network(&*leader, closed).await.unwrap();
    let row = leader.tables().network_named("closed").cloned().unwrap();
    assert!(row.internal, "{row:?}");
    assert!(!created.internal);

    let mut spec = ServiceSpec::new("web", "busybox:latest");
    spec.task.networks = vec!["backend".to_owned()];
    api::create_service(&*leader, spec).await.unwrap();
    let in_use = api::remove_network(&*leader, "backend").await;
    let (status, message) = refused(&leader, in_use).await;
    assert_eq!((status, message.contains("web")), (409, true), "{message}");
    api::remove_service(&*leader, "web").await.unwrap();
    api::remove_network(&*leader, &created.id).await.unwrap();
    assert!(leader.tables().network_named("backend").is_none());
    let gone = api::remove_network(&*leader, "backend").await;
    assert_eq!(refused(&leader, gone).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_specs_are_checked_against_the_cluster() {
    let leader = TestLeader::start().await;
    let mut unknown_net = ServiceSpec::new("web", "busybox:latest");
    unknown_net.task.networks = vec!["nope".to_owned()];
    let result = api::create_service(&*leader, unknown_net).await;
    let (status, message) = refused(&leader, result).await;
    assert_eq!((status, message.contains("nope")), (400, true), "{message}");

    let mut unknown_secret = ServiceSpec::new("web", "busybox:latest");
    unknown_secret.task.secrets = vec![SecretRef::named("password")];
    let result = api::create_service(&*leader, unknown_secret).await;
    assert_eq!(refused(&leader, result).await.0, 400);

    let invalid = api::create_service(&*leader, ServiceSpec::new("Web!", "busybox")).await;
    assert_eq!(refused(&leader, invalid).await.0, 400);

    let mut web = ServiceSpec::new("web", "busybox:latest");
    published(&mut web, 8080);
    api::create_service(&*leader, web).await.unwrap();
    let twin = api::create_service(&*leader, ServiceSpec::new("web", "busybox")).await;
    assert_eq!(refused(&leader, twin).await.0, 409);
    let mut clash = ServiceSpec::new("api", "busybox:latest");
    published(&mut clash, 8080);
    let result = api::create_service(&*leader, clash).await;
    let (status, message) = refused(&leader, result).await;
    assert_eq!((status, message.contains("8080")), (409, true), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_check_the_version_and_rollbacks_need_a_previous_spec() {
    let leader = TestLeader::start().await;
    let id = api::create_service(&*leader, ServiceSpec::new("web", "busybox:1"))
        .await
        .unwrap()
        .id;
    let rollback = api::rollback_service(&*leader, "web").await;
    let (status, message) = refused(&leader, rollback).await;
    assert_eq!(
        (status, message.contains("previous")),
        (400, true),
        "{message}"
    );

    let mut spec = ServiceSpec::new("web", "busybox:2");
    let stale = ServiceUpdateRequest {
        spec: spec.clone(),
        version: Some(7),
        force: false,
    };
    let result = api::update_service(&*leader, "web", stale).await;
    let (status, message) = refused(&leader, result).await;
    assert_eq!(status, 409);
    assert!(message.contains("update out of sequence"), "{message}");

    let mut global = spec.clone();
    global.mode = ServiceMode::Global;
    let request = ServiceUpdateRequest {
        spec: global,
        version: None,
        force: false,
    };
    let result = api::update_service(&*leader, "web", request).await;
    assert_eq!(refused(&leader, result).await.0, 400);

    let request = ServiceUpdateRequest {
        spec: spec.clone(),
        version: Some(1),
        force: true,
    };
    let view = api::update_service(&*leader, &id[..5], request)
        .await
        .unwrap();
    assert_eq!(view.service.version, 2);
    assert_eq!(view.service.spec.task.image, "busybox:2");
    assert_eq!(view.service.spec.task.force_update, 1);
    spec.task.image = "busybox:3".to_owned();
    let request = ServiceUpdateRequest {
        spec,
        version: Some(2),
        force: false,
    };
    let view = api::update_service(&*leader, "web", request).await.unwrap();
    assert_eq!(view.service.spec.task.force_update, 1, "the counter stays");

    let view = api::rollback_service(&*leader, "web").await.unwrap();
    assert_eq!(view.service.spec.task.image, "busybox:2");
    assert!(view.created_at > 0 && view.updated_at >= view.created_at);
    // The CLI reads the view back from JSON.
    let json = serde_json::to_string(&view).unwrap();
    let back: ServiceView = serde_json::from_str(&json).unwrap();
    assert_eq!(back, view);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_checked_and_kept_while_in_use() {
    let leader = TestLeader::start().await;
    let view = api::create_secret(&*leader, secret("db-password", b"hunter2"))
        .await
        .unwrap();
    assert_eq!(view.name, "db-password");

    let twin = api::create_secret(&*leader, secret("db-password", b"x")).await;
    assert_eq!(refused(&leader, twin).await.0, 409);
    let mut garbled = secret("other", b"x");
    garbled.data_b64 = "not base64!".to_owned();
    let result = api::create_secret(&*leader, garbled).await;
    assert_eq!(refused(&leader, result).await.0, 400);
    let huge = vec![b'x'; api::SECRET_MAX_BYTES + 1];
    let result = api::create_secret(&*leader, secret("huge", &huge)).await;
    assert_eq!(refused(&leader, result).await.0, 400);
    let slash = api::create_secret(&*leader, secret("../etc", b"x")).await;
    assert_eq!(refused(&leader, slash).await.0, 400);

    let mut spec = ServiceSpec::new("db", "busybox:latest");
    spec.task.secrets = vec![SecretRef::named("db-password")];
    api::create_service(&*leader, spec).await.unwrap();
    let in_use = api::remove_secret(&*leader, "db-password").await;
    assert_eq!(refused(&leader, in_use).await.0, 409);
    api::remove_service(&*leader, "db").await.unwrap();
    api::remove_secret(&*leader, &view.id).await.unwrap();
    assert!(leader.tables().secrets.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_services_published_port_is_free_at_once() {
    let leader = TestLeader::start().await;
    let mut web = ServiceSpec::new("web", "busybox:latest");
    published(&mut web, 8080);
    api::create_service(&*leader, web.clone()).await.unwrap();
    pass_once(&*leader).await.unwrap();
    assert_eq!(leader.tables().allocator.unwrap().ports.tcp.len(), 1);

    api::remove_service(&*leader, "web").await.unwrap();
    assert!(leader.tables().allocator.unwrap().ports.tcp.is_empty());
    web.name = "web2".to_owned();
    api::create_service(&*leader, web).await.unwrap();
    let outcome = pass_once(&*leader).await.unwrap();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(leader.tables().endpoints.len(), 1);
}
