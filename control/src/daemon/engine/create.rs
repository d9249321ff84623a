//! `POST /networks/create` and `POST /secrets/create` with Docker's bodies
//! (`docker network create`, `docker secret create`, stacks): translated
//! into shoal's requests and run on the leader like shoal's own, so every
//! check of shoal's API applies. A field shoal has no counterpart for is
//! refused by name, never dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::core::Daemon;
use super::super::http_api::{api_call, decode};
use super::EngineFailure;
use super::shapes::{is_unset, parse_body};
use crate::api::{NetworkCreateRequest, SecretCreateRequest, SecretView};
use crate::cluster::NetworkRecord;
use crate::ctl::ApiOp;

/// Fields of a body that no typed field took.
type Rest = BTreeMap<String, Value>;

/// Docker's network create body.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerNetworkCreate {
    name: String,
    driver: String,
    scope: String,
    internal: bool,
    attachable: bool,
    ingress: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    ipam: Option<DockerIpam>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerIpam {
    driver: String,
    config: Option<Vec<DockerIpamConfig>>,
    options: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerIpamConfig {
    subnet: String,
    #[serde(flatten)]
    rest: Rest,
}

/// Docker's secret create body.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerSecretCreate {
    name: String,
    labels: Option<BTreeMap<String, String>>,
    data: String,
    driver: Option<Value>,
    templating: Option<Value>,
}

/// Fields Docker's clients always send that carry no choice (`CheckDuplicate`).
const IGNORED: [&str; 1] = ["CheckDuplicate"];

/// The first field of `rest` (at `path`) that carries a value, refused.
fn refuse_rest(path: &str, rest: &Rest) -> Result<(), EngineFailure> {
    match rest
        .iter()
        .find(|(k, v)| !IGNORED.contains(&k.as_str()) && !is_unset(k, v))
    {
        Some((key, _)) => Err(EngineFailure::unsupported(&format!("{path}{key}"))),
        None => Ok(()),
    }
}

impl DockerNetworkCreate {
    fn into_request(self) -> Result<NetworkCreateRequest, EngineFailure> {
        refuse_rest("", &self.rest)?;
        if !matches!(self.driver.as_str(), "" | "overlay") {
            return Err(EngineFailure::bad_request(format!(
                "Driver: shoal creates overlay networks only, not {:?}",
                self.driver
            )));
        }
        if !matches!(self.scope.as_str(), "" | "swarm") {
            return Err(EngineFailure::unsupported("Scope (other than swarm)"));
        }
        for (set, field) in [
            (self.attachable, "Attachable"),
            (self.ingress, "Ingress"),
            (self.enable_ipv6, "EnableIPv6"),
        ] {
            if set {
                return Err(EngineFailure::unsupported(field));
            }
        }
        let mut encrypted = false;
        for (key, value) in self.options.iter().flatten() {
            match (key.as_str(), value.as_str()) {
                ("encrypted", "" | "true") => encrypted = true,
                ("encrypted", "false") => {}
                _ => return Err(EngineFailure::unsupported(&format!("Options.{key}"))),
            }
        }
        Ok(NetworkCreateRequest {
            name: self.name,
            driver: Some("overlay".to_owned()),
            subnet: subnet(self.ipam)?,
            encrypted,
            internal: self.internal,
            labels: self.labels.unwrap_or_default(),
        })
    }
}

/// The one subnet an `IPAM` section may give (default driver only).
fn subnet(ipam: Option<DockerIpam>) -> Result<Option<String>, EngineFailure> {
    let Some(ipam) = ipam else {
        return Ok(None);
    };
    if !matches!(ipam.driver.as_str(), "" | "default") {
        return Err(EngineFailure::unsupported("IPAM.Driver"));
    }
    if ipam.options.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(EngineFailure::unsupported("IPAM.Options"));
    }
    let configs = ipam.config.unwrap_or_default();
    if configs.len() > 1 {
        return Err(EngineFailure::unsupported(
            "IPAM.Config (more than one subnet)",
        ));
    }
    let Some(config) = configs.into_iter().next() else {
        return Ok(None);
    };
    refuse_rest("IPAM.Config.", &config.rest)?;
    Ok((!config.subnet.is_empty()).then_some(config.subnet))
}

/// `POST /networks/create`: 201 `{"Id": ..., "Warning": ""}`.
pub(crate) async fn network(
    State(daemon): State<Arc<Daemon>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), EngineFailure> {
    let request = parse_body::<DockerNetworkCreate>(&body)?.into_request()?;
    let op = ApiOp::CreateNetwork {
        request: Box::new(request),
    };
    let created: NetworkRecord = decode(api_call(&daemon, op).await?)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": created.id, "Warning": ""})),
    ))
}

/// `POST /secrets/create`: 201 `{"ID": ...}`.
pub(crate) async fn secret(
    State(daemon): State<Arc<Daemon>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), EngineFailure> {
    let docker: DockerSecretCreate = parse_body(&body)?;
    if docker.driver.as_ref().is_some_and(|d| !d.is_null()) {
        return Err(EngineFailure::unsupported("Driver"));
    }
    if docker.templating.as_ref().is_some_and(|t| !t.is_null()) {
        return Err(EngineFailure::unsupported("Templating"));
    }
    let request = SecretCreateRequest {
        name: docker.name,
        data_b64: docker.data,
        labels: docker.labels.unwrap_or_default(),
    };
    let op = ApiOp::CreateSecret {
        request: Box::new(request),
    };
    let created: SecretView = decode(api_call(&daemon, op).await?)?;
    Ok((StatusCode::CREATED, Json(json!({"ID": created.id}))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> Result<NetworkCreateRequest, String> {
        parse_body::<DockerNetworkCreate>(body.as_bytes())
            .and_then(DockerNetworkCreate::into_request)
            .map_err(|e| e.message)
    }

    #[test]
    fn what_docker_sends_for_a_stack_network_translates() {
        let got = request(
            r#"{"Name":"app_default","CheckDuplicate":true,"Driver":"overlay","Scope":"swarm",
            "Internal":false,"Attachable":false,"Ingress":false,"EnableIPv6":false,
            "IPAM":{"Driver":"default","Config":[{"Subnet":"10.9.0.0/24"}],"Options":null},
            "Options":{"encrypted":""},"Labels":{"com.docker.stack.namespace":"app"}}"#,
        )
        .expect("translates");
        assert_eq!(got.name, "app_default");
        assert_eq!(got.subnet.as_deref(), Some("10.9.0.0/24"));
        assert!(got.encrypted);
        assert_eq!(got.labels["com.docker.stack.namespace"], "app");
    }

    #[test]
    fn what_shoal_cannot_do_is_refused_by_name() {
        let refused = |body: &str| request(body).expect_err("refused");
        assert_eq!(
            refused(r#"{"Name":"n","Driver":"bridge"}"#),
            "Driver: shoal creates overlay networks only, not \"bridge\""
        );
        assert_eq!(
            refused(r#"{"Name":"n","Attachable":true}"#),
            "Attachable is not supported by shoal"
        );
        assert_eq!(
            refused(r#"{"Name":"n","Options":{"com.docker.network.driver.mtu":"1400"}}"#),
            "Options.com.docker.network.driver.mtu is not supported by shoal"
        );
        assert_eq!(
            refused(
                r#"{"Name":"n","IPAM":{"Config":[{"Subnet":"10.9.0.0/24","Gateway":"10.9.0.9"}]}}"#
            ),
            "IPAM.Config.Gateway is not supported by shoal"
        );
        assert_eq!(
            refused(r#"{"Name":"n","ConfigFrom":{"Network":"x"}}"#),
            "ConfigFrom is not supported by shoal"
        );
    }
}
