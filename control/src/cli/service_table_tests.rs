use std::collections::BTreeMap;

use shoal_control::cluster::ServiceEndpoint;
use shoal_control::spec::TaskState;

use super::*;
use crate::cli::fixtures::{ended, global_service, outdated, service, task};

const MINUTE: u64 = 60_000;

#[test]
fn ls_shows_replicas_and_allocated_ports() {
    let mut web = service(3);
    web.running = 2;
    web.service.spec.ports = vec!["8080:80".parse().unwrap(), "53/udp".parse().unwrap()];
    web.endpoint = Some(ServiceEndpoint {
        service_id: web.service.id.clone(),
        vips: Vec::new(),
        ports: vec!["8080:80".parse().unwrap(), "30000:53/udp".parse().unwrap()],
        spec_version: 1,
    });
    let mut agent = global_service(2);
    agent.service.id = "agentid0000000000000".into();
    agent.running = 2;
    assert_eq!(
        service_table(&[web, agent]).render(),
        "ID             NAME    MODE         REPLICAS   IMAGE     PORTS\n\
         agentid00000   agent   global       2/2        nginx:1\n\
         svc012345678   web     replicated   2/3        nginx:1   *:8080->80/tcp, *:30000->53/udp\n"
    );
}

#[test]
fn ps_puts_history_under_the_current_task_of_each_slot() {
    let web = service(2);
    let now = 100 * MINUTE;
    let old = ended(
        outdated(task(
            &web,
            "old1aaaaaaaaaaaaaa",
            1,
            TaskState::Running,
            now - 9 * MINUTE,
        )),
        TaskState::Shutdown,
        None,
    );
    let failed = ended(
        task(
            &web,
            "fail2bbbbbbbbbbbbb",
            2,
            TaskState::Running,
            now - 3 * MINUTE,
        ),
        TaskState::Failed,
        Some("task: non-zero exit (1) after the container printed a lot"),
    );
    let mut tasks = vec![
        old,
        task(
            &web,
            "new2cccccccccccccc",
            2,
            TaskState::Running,
            now - 2 * MINUTE,
        ),
        failed,
        task(
            &web,
            "new1dddddddddddddd",
            1,
            TaskState::Running,
            now - 7 * MINUTE,
        ),
    ];
    ps_order(&mut tasks);
    let options = PsOptions {
        no_trunc: false,
        now: Timestamp(now),
    };
    let text = task_table(&tasks, &BTreeMap::new(), options).render();
    let expected = "\
ID             NAME        IMAGE     NODE     DESIRED STATE   CURRENT STATE            ERROR                              PORTS
new1dddddddd   web.1       nginx:1   node-1   Running         Running 7 minutes ago
old1aaaaaaaa    \\_ web.1   nginx:0   node-1   Shutdown        Shutdown 9 minutes ago
new2cccccccc   web.2       nginx:1   node-1   Running         Running 2 minutes ago
fail2bbbbbbb    \\_ web.2   nginx:1   node-1   Shutdown        Failed 3 minutes ago     \"task: non-zero exit (1) after…\"
";
    assert_eq!(text, expected);
    let full = task_table(
        &tasks,
        &BTreeMap::new(),
        PsOptions {
            no_trunc: true,
            ..options
        },
    )
    .render();
    assert!(full.contains("fail2bbbbbbbbbbbbb"));
    assert!(full.contains("\"task: non-zero exit (1) after the container printed a lot\""));
}

#[test]
fn ps_shows_host_ports_on_running_tasks_only() {
    let web = service(2);
    let ports: Vec<PortConfig> = vec![
        "published=8080,target=80,mode=host".parse().unwrap(),
        "9090:90".parse().unwrap(),
    ];
    let mut tasks = vec![
        task(&web, "a", 1, TaskState::Running, 0),
        task(&web, "b", 2, TaskState::Preparing, 0),
    ];
    ps_order(&mut tasks);
    let options = PsOptions {
        no_trunc: false,
        now: Timestamp(1000),
    };
    let ports = BTreeMap::from([(web.service.id.clone(), ports)]);
    let text = task_table(&tasks, &ports, options).render();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].ends_with("*:8080->80/tcp"), "{text}");
    assert!(!lines[2].contains("8080"), "{text}");
}

#[test]
fn pretty_names_the_essentials() {
    let mut web = service(3);
    web.service.spec.task.env = vec!["A=1".into()];
    web.service.spec.ports = vec!["8080:80".parse().unwrap()];
    web.service.spec.task.secrets = vec![
        "source=db,target=app/db,uid=1000,mode=0400"
            .parse()
            .unwrap(),
    ];
    let text = pretty(&web);
    for needle in [
        "Name:\t\tweb",
        "Replicas:\t3",
        "Image:\t\tnginx:1",
        "Env:\t\tA=1",
        "Ports:\t\t*:8080->80/tcp",
        "Endpoint Mode:\tvip",
        "On failure:\tpause",
        "Update order:      stop-first",
        "RollbackConfig:",
        "Secret:\tdb at /run/secrets/app/db (uid 1000, gid 0, mode 0400)",
        "Pids limit:\t4096",
        "Seccomp:\tbuiltin",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
}

#[test]
fn ps_filters_by_desired_state_node_and_name() {
    let web = service(2);
    let old = ended(
        task(&web, "old", 1, TaskState::Running, 0),
        TaskState::Shutdown,
        None,
    );
    let current = task(&web, "new", 1, TaskState::Running, 0);
    let running = PsFilter::parse(&["desired-state=running".into()]).unwrap();
    assert!(running.matches(&current) && !running.matches(&old));
    let shutdown = PsFilter::parse(&["desired-state=shutdown".into()]).unwrap();
    assert!(!shutdown.matches(&current) && shutdown.matches(&old));
    let both = PsFilter::parse(&[
        "desired-state=shutdown".into(),
        "desired-state=running".into(),
    ]);
    assert!(both.unwrap().matches(&current));
    let node = PsFilter::parse(&["node=node-1".into(), "name=web.1".into()]).unwrap();
    assert!(node.matches(&current));
    let elsewhere = PsFilter::parse(&["node=node-2".into()]).unwrap();
    assert!(!elsewhere.matches(&current));
    assert!(
        PsFilter::parse(&["id=ne".into()])
            .unwrap()
            .matches(&current)
    );
    assert_eq!(
        PsFilter::parse(&["desired-state=dead".into()]),
        Err(FilterError::DesiredState {
            value: "dead".into()
        })
    );
    assert!(matches!(
        PsFilter::parse(&["colour=red".into()]),
        Err(FilterError::Key { .. })
    ));
    assert!(matches!(
        PsFilter::parse(&["running".into()]),
        Err(FilterError::Syntax { .. })
    ));
}

#[test]
fn tables_show_a_pinned_image_without_its_digest() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let pinned = format!("reg.example:5000/app:1@{digest}");
    assert_eq!(image_text(&pinned), "reg.example:5000/app:1");
    assert_eq!(image_text("web:1"), "web:1");
    assert_eq!(
        image_text(&format!("reg.example:5000/app@{digest}")),
        "reg.example:5000/app"
    );
}
