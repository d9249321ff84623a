//! `/images/json`, `/images/{name}/json` and `/images/load` in Docker's
//! shapes (`docker image ls`, `docker image inspect`, `docker load`): the
//! image store of the node the client talks to, as shoal's own image
//! routes (`http_images`) show it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse as _, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::super::calls::on_runtime;
use super::super::core::Daemon;
use super::super::http_images::load_archive;
use super::EngineFailure;
use super::filters::{FilterQuery, Filters};
use crate::runtime::image::{Image, ImageError, ImageSummary, LoadedImage};

/// The tags and registry digests of one image, from its `image ls` rows.
#[derive(Debug, Default, PartialEq, Eq)]
struct Names {
    tags: Vec<String>,
    digests: Vec<String>,
}

/// `repo:tag` of every named row of `image` and `repo@sha256:...` of
/// every repository (Docker's `RepoTags` and `RepoDigests`).
fn names(rows: &[&ImageSummary]) -> Names {
    let mut names = Names::default();
    for row in rows.iter().filter(|r| r.repository != "<none>") {
        names.tags.push(format!("{}:{}", row.repository, row.tag));
        let digest = format!("{}@{}", row.repository, row.manifest);
        if !names.digests.contains(&digest) {
            names.digests.push(digest);
        }
    }
    names
}

/// Whether an image passes `reference` (`repo` or `repo:tag`, exact)
/// and `dangling` (no tag).
fn passes(filters: &Filters, names: &Names) -> bool {
    let references = names.tags.iter().flat_map(|tag| {
        let repo = tag.rsplit_once(':').map_or(tag.as_str(), |(repo, _)| repo);
        [tag.as_str(), repo]
    });
    let dangling = if names.tags.is_empty() {
        "true"
    } else {
        "false"
    };
    filters.accepts("reference", references) && filters.accepts("dangling", [dangling])
}

/// A config's `created` as Unix seconds (0 when absent, as Docker's
/// images built without a time show).
fn created_secs(created: Option<&str>) -> i64 {
    created
        .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok())
        .map_or(0, OffsetDateTime::unix_timestamp)
}

/// `GET /images/json`: one summary per image (its names grouped).
pub(crate) async fn list(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<FilterQuery>,
) -> Result<Json<Vec<Value>>, EngineFailure> {
    let filters = query.parse().map_err(EngineFailure::bad_request)?;
    if let Some(name) = filters.unknown(&["reference", "dangling"]) {
        return Err(EngineFailure::unsupported(&format!("filter '{name}'")));
    }
    let (rows, created) = on_runtime(&daemon.runtime, "listing images", |rt| {
        let store = rt.images();
        let rows = store.list()?;
        let mut created = BTreeMap::new();
        for row in &rows {
            let image = store.resolve(&row.id.to_string())?;
            created.insert(
                row.id.clone(),
                created_secs(image.config.created.as_deref()),
            );
        }
        Ok((rows, created))
    })
    .await?;
    let mut by_id: BTreeMap<_, Vec<&ImageSummary>> = BTreeMap::new();
    for row in &rows {
        by_id.entry(row.id.clone()).or_default().push(row);
    }
    let images = by_id
        .iter()
        .map(|(id, rows)| (id, rows, names(rows)))
        .filter(|(_, _, names)| passes(&filters, names))
        .map(|(id, rows, names)| {
            json!({
                "Id": id.to_string(), "ParentId": "", "RepoTags": names.tags,
                "RepoDigests": names.digests, "Created": created.get(id).copied().unwrap_or(0),
                "Size": rows[0].size, "SharedSize": -1, "Labels": {}, "Containers": -1,
            })
        })
        .collect();
    Ok(Json(images))
}

/// Docker's image inspect of `image`, named `names`.
fn inspect_shape(image: &Image, names: &Names, size: u64) -> Value {
    let config = &image.config;
    let exec = &config.config;
    json!({
        "Id": image.id.to_string(), "RepoTags": names.tags, "RepoDigests": names.digests,
        "Parent": "", "Comment": "", "Created": config.created.clone().unwrap_or_default(),
        "Author": "", "Architecture": config.architecture, "Os": config.os, "Size": size,
        "Config": {
            "User": exec.user.clone().unwrap_or_default(), "Env": exec.env,
            "Entrypoint": exec.entrypoint, "Cmd": exec.cmd,
            "WorkingDir": exec.working_dir.clone().unwrap_or_default(),
        },
        "RootFS": {
            "Type": "layers",
            "Layers": config.rootfs.diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
    })
}

/// `GET /images/{name}/json` (a name may hold `/`s, so the route takes
/// the rest of the path).
pub(crate) async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(rest): Path<String>,
) -> Result<Json<Value>, EngineFailure> {
    let Some(name) = rest.strip_suffix("/json") else {
        return Err(EngineFailure::not_found("page", &format!("/images/{rest}")));
    };
    let reference = name.to_owned();
    let found = on_runtime(&daemon.runtime, "inspecting an image", move |rt| {
        let store = rt.images();
        match store.resolve(&reference) {
            Ok(image) => Ok(Some((image, store.list()?))),
            Err(ImageError::NotFound { .. } | ImageError::InvalidReference { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    })
    .await?;
    let Some((image, rows)) = found else {
        return Err(EngineFailure {
            status: StatusCode::NOT_FOUND,
            message: format!("No such image: {name}"),
        });
    };
    let own: Vec<&ImageSummary> = rows.iter().filter(|r| r.id == image.id).collect();
    let size = own.first().map_or(0, |r| r.size);
    Ok(Json(inspect_shape(&image, &names(&own), size)))
}

/// What `docker load` prints for one loaded image.
fn loaded_line(image: &LoadedImage) -> String {
    let text = match &image.name {
        Some(name) => format!("Loaded image: {name}\n"),
        None => format!("Loaded image ID: {}\n", image.id),
    };
    format!("{}\n", json!({ "stream": text }))
}

/// `POST /images/load`: the archive in the body; Docker's JSON messages.
pub(crate) async fn load(
    State(daemon): State<Arc<Daemon>>,
    body: Body,
) -> Result<Response, EngineFailure> {
    let loaded = load_archive(&daemon, body).await?;
    let text: String = loaded.iter().map(loaded_line).collect();
    let mut response = Body::from(text).into_response();
    let content_type = axum::http::HeaderValue::from_static("application/json");
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    Ok(response)
}

#[cfg(test)]
#[path = "images_tests.rs"]
mod tests;
