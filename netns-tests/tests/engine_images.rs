//! `docker load`, `docker image ls` and `docker image inspect` against
//! shoal with the stock `docker` client: an archive loaded through
//! Docker's route is in the node's store, listed and inspected in Docker's
//! shapes with the same ID shoal's own `image ls` shows.

use serde_json::Value;
use shoal_netns_tests::docker_kit::{docker, docker_clients};
use shoal_netns_tests::services_kit::{ServiceLab, build_test_images, test_image_archives};

#[test]
fn docker_loads_lists_and_inspects_the_nodes_images() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::without_images(1);
    let manager = lab.manager();
    let dir = manager.state_dir().join("archives");
    build_test_images(&dir).expect("build the test images");
    let archive = test_image_archives(&dir)[0].clone();
    let client = &docker_clients()[0];
    let run = |args: &[&str]| docker(client, manager, args);

    let loaded = run(&["load", "-i", archive.to_str().expect("utf-8")])
        .unwrap_or_else(|e| panic!("docker load: {e}"));
    assert_eq!(loaded, "Loaded image: web:1");
    let shoal_ls = lab
        .cli(&["image", "ls", "--format", "json"])
        .expect("image ls");
    let shoal_images: Vec<Value> = serde_json::from_str(&shoal_ls).expect("json");
    assert_eq!(shoal_images.len(), 1, "{shoal_ls}");
    let id = shoal_images[0]["id"].as_str().expect("id").to_owned();

    let listed = run(&[
        "image",
        "ls",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ])
    .unwrap_or_else(|e| panic!("docker image ls: {e}"));
    assert_eq!(listed, format!("web:1 {id}"));
    let by_reference = run(&["image", "ls", "-q", "web:2"])
        .unwrap_or_else(|e| panic!("docker image ls web:2: {e}"));
    assert!(by_reference.is_empty(), "no web:2 here: {by_reference}");

    let inspected = run(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{json .RepoTags}} {{json .Config.Cmd}} {{.Os}}",
        "web:1",
    ])
    .unwrap_or_else(|e| panic!("docker image inspect: {e}"));
    assert_eq!(
        inspected,
        format!(r#"{id} ["web:1"] ["httpd","-f","-p","80","-h","/www"] linux"#)
    );
    let missing = run(&["image", "inspect", "nope:1"]).expect_err("no such image");
    assert!(missing.contains("No such image: nope:1"), "{missing}");
    let refused = run(&["image", "ls", "--filter", "since=web:1"]).expect_err("since");
    assert!(
        refused.contains("filter 'since' is not supported"),
        "{refused}"
    );
}
