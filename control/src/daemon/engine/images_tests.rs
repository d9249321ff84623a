use super::*;
use crate::runtime::image::{Digest, ImageName};

fn row(repository: &str, tag: &str, id: &Digest) -> ImageSummary {
    ImageSummary {
        repository: repository.to_owned(),
        tag: tag.to_owned(),
        id: id.clone(),
        manifest: Digest::of(b"manifest"),
        size: 42,
    }
}

fn filters(json: &str) -> Filters {
    let query: FilterQuery = serde_json::from_value(json!({ "filters": json })).expect("query");
    query.parse().expect("filters")
}

#[test]
fn an_images_names_are_grouped_as_docker_shows_them() {
    let id = Digest::of(b"config");
    let rows = [row("web", "1", &id), row("web", "latest", &id)];
    let named = names(&rows.iter().collect::<Vec<_>>());
    assert_eq!(named.tags, ["web:1", "web:latest"]);
    assert_eq!(named.digests, [format!("web@{}", Digest::of(b"manifest"))]);
    let untagged = [row("<none>", "<none>", &id)];
    assert_eq!(
        names(&untagged.iter().collect::<Vec<_>>()),
        Names::default()
    );
}

#[test]
fn reference_and_dangling_filters_select_images() {
    let id = Digest::of(b"config");
    let web = names(&[&row("web", "1", &id)]);
    let dangling = names(&[&row("<none>", "<none>", &id)]);
    assert!(passes(&filters(r#"{"reference":{"web":true}}"#), &web));
    assert!(passes(&filters(r#"{"reference":{"web:1":true}}"#), &web));
    assert!(!passes(&filters(r#"{"reference":{"web:2":true}}"#), &web));
    assert!(passes(&filters(r#"{"dangling":{"true":true}}"#), &dangling));
    assert!(!passes(&filters(r#"{"dangling":{"true":true}}"#), &web));
}

#[test]
fn created_times_and_load_lines_are_dockers() {
    assert_eq!(created_secs(Some("1970-01-01T00:01:40Z")), 100);
    assert_eq!(created_secs(None), 0);
    assert_eq!(created_secs(Some("yesterday")), 0);
    let named = LoadedImage {
        name: Some(ImageName::parse("web:1").expect("name")),
        id: Digest::of(b"config"),
        manifest: Digest::of(b"manifest"),
    };
    assert_eq!(
        loaded_line(&named),
        "{\"stream\":\"Loaded image: web:1\\n\"}\n"
    );
    let unnamed = LoadedImage {
        name: None,
        ..named
    };
    assert!(loaded_line(&unnamed).contains("Loaded image ID: sha256:"));
}
