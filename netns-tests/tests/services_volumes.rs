//! `--mount` on a one-node lab swarm with real containers: a named volume
//! keeps what a task wrote for the task that replaces it (and starts as a
//! copy of the image's directory), a read-only bind mount of the node's
//! directory is served by the task, a tmpfs has its size; `volume ls`
//! shows the volume and `volume rm` waits until no container mounts it.

use shoal_netns_tests::dns_kit::{TaskRef, exec_in_task, running_task, running_tasks};
use shoal_netns_tests::services_kit::{ServiceLab, get_from_task};
use shoal_netns_tests::swarm_kit::{eventually, field};

#[test]
fn a_volume_outlives_its_task_and_binds_and_tmpfs_reach_the_container() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = ServiceLab::new(1);
    let site = lab.manager().state_dir().join("site");
    std::fs::create_dir_all(&site).expect("site dir");
    std::fs::write(site.join("page.html"), "from the node\n").expect("page");
    let bind = format!(
        "type=bind,source={},target=/www/site,readonly",
        site.display()
    );
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "app",
        "--mount",
        "type=volume,source=appdata,target=/www/data",
        "--mount",
        &bind,
        "--mount",
        "type=tmpfs,target=/scratch,tmpfs-size=1m",
        "web:1",
    ])
    .expect("service create");
    lab.wait_running("app", 1);
    let first = running_task(&lab, "app");
    let write = exec_in_task(
        &lab.nodes,
        &first,
        &[
            "sh",
            "-c",
            "echo kept > /www/data/note; (echo x > /www/site/x) 2>&1; grep ' /scratch ' /proc/mounts",
        ],
    );
    assert!(
        write.contains("Read-only file system"),
        "the bind is read-only: {write}"
    );
    assert!(
        write.contains("tmpfs /scratch tmpfs") && write.contains("size=1024k"),
        "{write}"
    );
    let page = get_from_task(&first.id, "http://127.0.0.1/site/page.html");
    assert_eq!(String::from_utf8_lossy(&page.stdout), "from the node\n");

    let volumes = lab.cli(&["volume", "ls", "-q"]).expect("volume ls");
    assert_eq!(volumes.trim(), "appdata");
    let busy = lab.cli(&["volume", "rm", "appdata"]).expect_err("in use");
    assert!(busy.to_string().contains("volume is in use"), "{busy}");

    lab.cli(&["service", "update", "--force", "-d", "app"])
        .expect("force update");
    // `running_task` panics in the gap between the two tasks: wait for a
    // running task other than the first.
    let second = eventually("the replacement task running", || {
        running_tasks(&lab, "app")
            .iter()
            .find(|t| field(t, "id") != first.id)
            .map(|t| TaskRef {
                id: field(t, "id").to_owned(),
                node: field(t, "node_hostname").to_owned(),
            })
    });
    // The image's /www/data did not exist: the volume holds only the note.
    let listing = exec_in_task(
        &lab.nodes,
        &second,
        &["sh", "-c", "ls /www/data; cat /www/data/note"],
    );
    assert_eq!(
        listing, "note\nkept\n",
        "the replacement reads what the first task wrote"
    );

    lab.cli(&["service", "rm", "app"]).expect("service rm");
    eventually("volume rm once no container mounts it", || {
        lab.cli(&["volume", "rm", "appdata"]).ok()
    });
    let volumes = lab
        .cli(&["volume", "ls", "--format", "json"])
        .expect("volume ls");
    assert_eq!(volumes.trim(), "[]");
}
