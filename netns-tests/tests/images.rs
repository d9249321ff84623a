//! Images reaching the nodes by themselves: a private registry in the lab
//! (Debian's `docker-registry` behind TLS with an htpasswd login, fed by
//! the runtime tests' push client on loopback), nodes that never had the
//! image, pulls once per node, tags pinned to digests, pull failures in
//! `service ps`, and the image GC.
//!
//! ```text
//!   n1 (manager, `shoal login`)   n2   n3        reg: docker-registry https://<reg>:5000
//!        │                         │    │          (CA in every node's certs.d, login alice)
//!   ─────┴─────────── underlay 198.18.0.0/15 ──────┴──
//! ```
#![expect(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

#[path = "../../control/crates/runtime/tests/support/mod.rs"]
mod registry_support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use registry_support::{Registry, make_certs, make_htpasswd, tls_config, write_config};
use serde_json::Value;
use shoal_netns_tests::lab::Node;
use shoal_netns_tests::lab::shoal_bin;
use shoal_netns_tests::services_kit::{ServiceLab, get_from_task, is_running, task_image};
use shoal_netns_tests::swarm_kit::{SwarmNode, eventually};
use shoal_runtime::image::{BuiltBlobs, Digest, ExtraFile, ImageBuilder};

const USER: &str = "alice";
const PASSWORD: &str = "s3cret";

/// The registry of the lab: served inside namespace `reg`, written to
/// through a plain loopback registry on the same directory.
struct LabRegistry {
    /// `<reg address>:5000`.
    host: String,
    /// Pushes (loopback, the same storage directory).
    plain: Registry,
    /// The lab registry's access log.
    log: PathBuf,
}

impl LabRegistry {
    /// Starts it in a new client namespace and makes every node trust its CA.
    fn start(lab: &mut ServiceLab, dir: &Path) -> LabRegistry {
        let reg = lab.client("reg");
        let host = format!("{}:5000", reg.addr());
        let plain = Registry::start(dir);
        let (ca, cert, key) = make_certs(dir, &reg.addr().to_string());
        let htpasswd = make_htpasswd(dir, USER, PASSWORD);
        let config = write_config(
            dir,
            "config-lab.yml",
            &host,
            &tls_config(&cert, &key, &htpasswd),
        );
        let log = dir.join("access.log");
        let serve = format!(
            "exec docker-registry serve {} >{} 2>&1",
            config.display(),
            log.display()
        );
        reg.spawn(&["sh", "-c", &serve]).unwrap();
        for node in &lab.nodes {
            let certs = node.state_dir().join("certs.d").join(&host);
            std::fs::create_dir_all(&certs).unwrap();
            std::fs::copy(&ca, certs.join("ca.crt")).unwrap();
        }
        let url = format!("https://{host}/v2/");
        let answers = || {
            // -k: only whether it is up (curl takes rcgen's CA and server
            // certificate, which share a subject, for self-signed; the
            // nodes verify with rustls and the CA).
            reg.exec(&[
                "curl",
                "-ksS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &url,
            ])
        };
        let up =
            shoal_netns_tests::swarm_kit::poll_until(|| answers().is_ok_and(|code| code == "401"));
        assert!(
            up,
            "the lab registry does not answer: {:?}\n{}",
            answers(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        LabRegistry { host, plain, log }
    }

    /// Successful GETs of `blob` from `addr` in the access log.
    fn blob_gets(&self, addr: Ipv4Addr, blob: &Digest) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let request = format!("\"GET /v2/shoal/app/blobs/{blob} HTTP/1.1\" 200 ");
        log.lines()
            .filter(|l| l.starts_with(&format!("{addr} ")) && l.contains(&request))
            .count()
    }
}

/// An httpd image whose index page is `marker`.
fn app_image(marker: &str) -> BuiltBlobs {
    let page = ExtraFile::new("www/index.html", format!("{marker}\n"));
    ImageBuilder::busybox("app", &[page], &["httpd", "-f", "-p", "80", "-h", "/www"])
        .unwrap()
        .oci_blobs()
        .unwrap()
}

/// `shoal login` on `node`, the password on standard input.
fn login(node: &SwarmNode, registry: &str) {
    let script = format!(
        "echo {PASSWORD} | {} login -H unix://{} -u {USER} --password-stdin {registry}",
        shoal_bin().display(),
        node.socket().display()
    );
    node.lab_node().sh(&script).unwrap();
}

/// The manifest digests in `node`'s image store.
fn digests_on(node: &SwarmNode) -> BTreeSet<String> {
    let out = node.cli(&["image", "ls", "--format", "json"]).unwrap();
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    rows.iter()
        .filter_map(|r| r["digest"].as_str().map(str::to_owned))
        .collect()
}

/// The tags (`repo:tag`) in `node`'s image store.
fn tags_on(node: &SwarmNode) -> BTreeSet<String> {
    let out = node.cli(&["image", "ls", "--format", "json"]).unwrap();
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    rows.iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["repository"].as_str().unwrap(),
                r["tag"].as_str().unwrap()
            )
        })
        .collect()
}

/// Waits for the first task of `service` to end rejected; its error.
fn rejection(lab: &ServiceLab, service: &str) -> String {
    eventually(&format!("a rejected task of {service}"), || {
        let tasks = lab.tasks(service);
        let task = tasks.iter().find(|t| t["status"]["state"] == "rejected")?;
        Some(
            task["status"]["err"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    })
}

#[test]
fn a_private_image_reaches_every_node_once_pinned_by_digest() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut lab = ServiceLab::without_images(3);
    let registry = LabRegistry::start(&mut lab, dir.path());
    let v1 = app_image("v1");
    registry.plain.push("shoal/app", "1", &v1);
    let image = format!("{}/shoal/app:1", registry.host);

    // No login anywhere: the node says why, and the slot is not retried
    // before its restart delay.
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "nologin",
        "--restart-delay",
        "1h",
        &image,
    ])
    .unwrap();
    let err = rejection(&lab, "nologin");
    assert!(
        err.starts_with("pull failed: unauthorized"),
        "service ps error: {err}"
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        lab.tasks("nologin").len(),
        1,
        "retried before the restart delay"
    );
    lab.cli(&["service", "rm", "nologin"]).unwrap();

    // n1 logs in; only its login (sent with the service) lets n2 and n3 pull.
    login(lab.manager(), &registry.host);
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "app",
        "--replicas",
        "6",
        "--with-registry-auth",
        &image,
    ])
    .unwrap();
    let pinned = format!("{image}@{}", Digest::of(&v1.manifest));
    let inspected = lab.inspect("app");
    assert_eq!(inspected["spec"]["image"], pinned.as_str());
    assert!(
        !inspected.to_string().contains(PASSWORD),
        "inspect shows the login"
    );
    let per_node = lab.wait_running("app", 6);
    assert_eq!(per_node.len(), 3, "every node runs tasks: {per_node:?}");
    let blobs: Vec<Digest> = std::iter::once(&v1.config)
        .chain(&v1.layers)
        .map(|b| Digest::of(b))
        .collect();
    let pulled_once = |lab: &ServiceLab| {
        for node in lab.node_addrs() {
            for blob in &blobs {
                assert_eq!(registry.blob_gets(node, blob), 1, "{node} fetched {blob}");
            }
        }
    };
    pulled_once(&lab);

    // The tag moves to another image; new tasks still run the pinned one.
    let v2 = app_image("v2");
    registry.plain.push("shoal/app", "1", &v2);
    lab.cli(&["service", "scale", "-d", "app=9"]).unwrap();
    lab.wait_running("app", 9);
    let running: Vec<Value> = lab.tasks("app").into_iter().filter(is_running).collect();
    for task in &running {
        assert_eq!(task_image(task), pinned);
        let id = task["id"].as_str().unwrap();
        let page = get_from_task(id, "http://127.0.0.1/");
        assert_eq!(String::from_utf8_lossy(&page.stdout), "v1\n", "task {id}");
    }
    let v1_digest = Digest::of(&v1.manifest).to_string();
    for node in &lab.nodes {
        assert_eq!(
            digests_on(node),
            BTreeSet::from([v1_digest.clone()]),
            "{}",
            node.name
        );
    }
    pulled_once(&lab);
}

#[test]
fn unused_images_are_collected_and_an_unreachable_registry_is_reported() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::with_daemon_args(3, &["--image-gc-grace", "30s"]);
    lab.cli(&[
        "service", "create", "-d", "--name", "web", "--mode", "global", "web:1",
    ])
    .unwrap();
    lab.wait_running("web", 3);
    let patient = |what: &str, check: &dyn Fn() -> bool| {
        // The grace (30 s) and a GC period (15 s) on top of the usual wait.
        for _ in 0..3 {
            if shoal_netns_tests::swarm_kit::poll_until(check) {
                return;
            }
        }
        panic!("timed out waiting for {what}");
    };
    for node in &lab.nodes {
        patient(&format!("web:2 to leave {}", node.name), &|| {
            !tags_on(node).contains("web:2")
        });
        let tags = tags_on(node);
        assert!(
            tags.contains("web:1"),
            "{}: the running task's image went: {tags:?}",
            node.name
        );
        assert!(!tags.contains("web:broken"), "{}: {tags:?}", node.name);
    }
    let err = lab.manager().cli_err(&["image", "rm", "web:1"]);
    assert!(err.contains("in use"), "{err}");

    let far = unreachable_registry(&lab.nodes[0].lab_node().clone());
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "far",
        "--restart-delay",
        "1h",
        &far,
    ])
    .unwrap();
    let err = rejection(&lab, "far");
    assert!(
        err.starts_with("pull failed: registry unreachable"),
        "service ps error: {err}"
    );
}

/// An image on a port nothing listens on (connections refused at once).
fn unreachable_registry(node: &Node) -> String {
    format!("{}:5999/shoal/app:1", node.addr())
}

#[test]
fn a_task_is_preparing_while_its_node_pulls_the_image() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = ServiceLab::without_images(1);
    // A "registry" that takes the connection and never answers: the pull
    // waits (up to its I/O timeout) and the task with it.
    let slow = lab.client("slow");
    // (nc's input stays open, or it would close the connection at once.)
    let _hold = slow
        .spawn(&["sh", "-c", "sleep 600 | busybox nc -l -p 5998"])
        .unwrap();
    let listening = shoal_netns_tests::swarm_kit::poll_until(|| {
        slow.exec(&["ss", "-ltnH", "sport = :5998"])
            .is_ok_and(|out| !out.trim().is_empty())
    });
    assert!(listening, "nc does not listen");
    let image = format!("{}:5998/shoal/app:1", slow.addr());
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "slow",
        "--no-resolve-image",
        "--restart-delay",
        "1h",
        &image,
    ])
    .unwrap();
    eventually("the task preparing while its image is pulled", || {
        lab.tasks("slow")
            .iter()
            .any(|t| t["status"]["state"] == "preparing")
            .then_some(())
    });
    let table = lab.cli(&["service", "ps", "slow"]).unwrap();
    assert!(table.contains("Preparing"), "service ps:\n{table}");
}
