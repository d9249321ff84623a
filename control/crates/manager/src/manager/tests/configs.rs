//! Configs on a real store: size and name rules, label-only updates with
//! their version, and removal refused while a service uses one.

use std::collections::BTreeMap;

use base64::Engine;

use super::live::TestLeader;
use crate::manager::{Leadership, ManagerError, api};
use shoal_model::api::{ConfigCreateRequest, ConfigUpdateRequest};
use shoal_model::spec::{ConfigRef, ServiceSpec};

fn config(name: &str, value: &[u8]) -> ConfigCreateRequest {
    ConfigCreateRequest {
        name: name.to_owned(),
        data_b64: base64::engine::general_purpose::STANDARD.encode(value),
        ..ConfigCreateRequest::default()
    }
}

/// The status and message of a refusal that wrote nothing.
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
async fn configs_are_checked_like_docker_does() {
    let leader = TestLeader::start().await;
    let view = api::create_config(&*leader, config("site.conf", b"listen 80;"))
        .await
        .unwrap();
    assert_eq!((view.name.as_str(), view.version), ("site.conf", 1));
    assert_eq!(view.data_b64, "bGlzdGVuIDgwOw==", "the value is shown");

    let twin = api::create_config(&*leader, config("site.conf", b"x")).await;
    assert_eq!(refused(&leader, twin).await.0, 409);
    let slash = api::create_config(&*leader, config("../etc", b"x")).await;
    assert_eq!(refused(&leader, slash).await.0, 400);
    let empty = api::create_config(&*leader, config("empty", b"")).await;
    assert_eq!(refused(&leader, empty).await.0, 400);
    let at_limit = vec![b'x'; api::CONFIG_MAX_BYTES];
    let huge = api::create_config(&*leader, config("huge", &at_limit)).await;
    let (status, message) = refused(&leader, huge).await;
    assert_eq!(status, 400);
    assert!(message.contains("less than 1024000 bytes"), "{message}");
    let just_fits = vec![b'x'; api::CONFIG_MAX_BYTES - 1];
    api::create_config(&*leader, config("big", &just_fits))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_labels_change_and_only_from_the_current_version() {
    let leader = TestLeader::start().await;
    let view = api::create_config(&*leader, config("site", b"v1"))
        .await
        .unwrap();
    let labels = BTreeMap::from([("tier".to_owned(), "web".to_owned())]);
    let update = |version| ConfigUpdateRequest {
        target: "site".to_owned(),
        version: Some(version),
        labels: labels.clone(),
    };
    let updated = api::update_config(&*leader, update(1)).await.unwrap();
    assert_eq!((updated.version, &updated.labels), (2, &labels));
    assert_eq!(updated.data_b64, view.data_b64, "the value stays");
    let stale = api::update_config(&*leader, update(1)).await;
    assert_eq!(refused(&leader, stale).await.0, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_in_use_is_kept_and_unknown_ones_are_refused() {
    let leader = TestLeader::start().await;
    let mut spec = ServiceSpec::new("web", "busybox:latest");
    spec.task.configs = vec![ConfigRef::named("site")];
    let unknown = api::create_service(&*leader, spec.clone()).await;
    let (status, message) = refused(&leader, unknown).await;
    assert_eq!(
        (status, message.as_str()),
        (
            400,
            "config site not found: create it with \"shoal config create\" first"
        )
    );

    let view = api::create_config(&*leader, config("site", b"v1"))
        .await
        .unwrap();
    api::create_service(&*leader, spec).await.unwrap();
    let in_use = api::remove_config(&*leader, "site").await;
    let (status, message) = refused(&leader, in_use).await;
    assert_eq!(status, 409);
    assert_eq!(
        message,
        "config 'site' is in use by the following service: web"
    );
    api::remove_service(&*leader, "web").await.unwrap();
    api::remove_config(&*leader, &view.id).await.unwrap();
    assert!(leader.tables().configs.is_empty());
}
