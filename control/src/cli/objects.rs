//! `inspect` and `rm` of named objects (services, networks, secrets): one
//! request per name, as Docker's CLI does.

use anyhow::bail;
use serde::de::DeserializeOwned;
use serde_json::Value;
use shoal_control::api::ApiClient;

use super::api_conn::path_segment;

/// `GET <base>/<name>` for every name, in order; the first failure stops.
pub async fn inspect_each<T: DeserializeOwned>(
    client: &ApiClient,
    base: &str,
    names: &[String],
) -> anyhow::Result<Vec<T>> {
    let mut found = Vec::with_capacity(names.len());
    for name in names {
        let path = format!("{base}/{}", path_segment(name));
        found.push(client.get::<T>(&path).await?);
    }
    Ok(found)
}

/// `DELETE <base>/<name>` for every name, printing each one removed; the
/// failures are reported together at the end, one line each.
pub async fn remove_each(client: &ApiClient, base: &str, names: &[String]) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for name in names {
        let path = format!("{base}/{}", path_segment(name));
        match client.delete::<Value>(&path).await {
            Ok(_) => println!("{name}"),
            Err(err) => failures.push(format!("{name}: {err}")),
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(())
}
