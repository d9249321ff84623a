//! `shoal service ...`: create, list, inspect, change and remove services,
//! following each change until the service converges.

use std::collections::BTreeMap;

use anyhow::bail;
use clap::{Args, Subcommand};
use shoal_control::api::{
    ApiClient, ServiceCreateResponse, ServiceUpdateRequest, ServiceView, TaskView,
};

use super::api_conn::{ConnArgs, block_on, path_segment};
use super::humanize::{now, short_id};
use super::output::{Format, print_json, print_list};
use super::parse;
use super::service_flags::{CreateFlags, UpdateFlags, WatchFlags};
use super::service_logs::{LogsOptions, logs};
use super::service_spec::{create_spec, generated_name, update_spec, with_replicas};
use super::service_table::{
    PsFilter, PsOptions, pretty, ps_order, service_ports, service_table, task_table,
};
use super::watch::{Watcher, watch};

/// `shoal service` and its connection options.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: ServiceCommand,
}

/// `shoal service` subcommands.
#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Create a service.
    Create(Box<CreateFlags>),
    /// List services.
    #[command(alias = "list")]
    Ls {
        /// Only IDs.
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List the tasks of services.
    Ps {
        /// Services (IDs, ID prefixes or names).
        #[arg(required = true)]
        services: Vec<String>,
        /// Filter: desired-state=running|shutdown|accepted, node=, id=, name=.
        #[arg(short, long = "filter", value_name = "FILTER")]
        filters: Vec<String>,
        /// Full IDs and errors.
        #[arg(long)]
        no_trunc: bool,
        /// Only task IDs.
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show services in detail (JSON).
    Inspect {
        /// Services.
        #[arg(required = true)]
        services: Vec<String>,
        /// A human-readable summary instead of JSON.
        #[arg(long)]
        pretty: bool,
        /// json (the default).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Change the replicas of services: `web=5 api=2`.
    Scale {
        /// SERVICE=REPLICAS.
        #[arg(required = true, value_parser = parse::scale_specifier)]
        specifiers: Vec<(String, u64)>,
        #[command(flatten)]
        watch: WatchFlags,
    },
    /// Change a service.
    Update(Box<UpdateFlags>),
    /// Go back to a service's previous spec.
    Rollback {
        /// The service.
        service: String,
        #[command(flatten)]
        watch: WatchFlags,
    },
    /// Remove services.
    #[command(alias = "remove")]
    Rm {
        /// Services.
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Print what a service's tasks wrote.
    Logs {
        #[command(flatten)]
        options: LogsOptions,
        /// The service.
        service: String,
    },
}

/// Runs a `shoal service` command.
pub fn run(args: ServiceArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    block_on(async move {
        match args.command {
            ServiceCommand::Create(flags) => create(&client, &flags).await,
            ServiceCommand::Ls { quiet, format } => ls(&client, quiet, format).await,
            ServiceCommand::Ps {
                services,
                filters,
                no_trunc,
                quiet,
                format,
            } => {
                let filter = PsFilter::parse(&filters)?;
                ps(&client, &services, &filter, no_trunc, quiet, format).await
            }
            ServiceCommand::Inspect {
                services,
                pretty,
                format,
            } => inspect(&client, &services, pretty && format != Some(Format::Json)).await,
            ServiceCommand::Scale { specifiers, watch } => {
                scale(&client, &specifiers, &watch).await
            }
            ServiceCommand::Update(flags) => update(&client, &flags).await,
            ServiceCommand::Rollback { service, watch } => {
                rollback(&client, &service, &watch).await
            }
            ServiceCommand::Rm { services } => rm(&client, &services).await,
            ServiceCommand::Logs { options, service } => logs(&client, &service, &options).await,
        }
    })
}

async fn get_service(client: &ApiClient, service: &str) -> anyhow::Result<ServiceView> {
    Ok(client
        .get(&format!("/services/{}", path_segment(service)))
        .await?)
}

/// The service as the leader last wrote it (a read barrier first): what
/// `scale` and `update` change and send back with its version, so that on
/// a follower they do not start from a spec an earlier write replaced.
async fn current_service(client: &ApiClient, service: &str) -> anyhow::Result<ServiceView> {
    Ok(client
        .get(&format!("/services/{}?consistent=1", path_segment(service)))
        .await?)
}

/// Five random characters for a generated service name.
fn random_suffix() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

async fn create(client: &ApiClient, flags: &CreateFlags) -> anyhow::Result<()> {
    let name = match &flags.name {
        Some(name) => name.clone(),
        None => generated_name(&flags.image, &random_suffix()),
    };
    let spec = create_spec(flags, &name, |key| std::env::var(key).ok())?;
    let path = format!("/services/create?{}", flags.images.query(true));
    let created: ServiceCreateResponse = client.post(&path, &spec).await?;
    println!("{}", created.id);
    for warning in &created.warnings {
        eprintln!("WARNING: {warning}");
    }
    follow(
        client,
        &created.id,
        Watcher::new(None, false, flags.watch.timeout),
        &flags.watch,
    )
    .await
}

/// Follows the change unless `--detach`.
async fn follow(
    client: &ApiClient,
    id: &str,
    watcher: Watcher,
    flags: &WatchFlags,
) -> anyhow::Result<()> {
    if flags.detach {
        return Ok(());
    }
    watch(client, id, watcher, flags.quiet).await
}

async fn ls(client: &ApiClient, quiet: bool, format: Format) -> anyhow::Result<()> {
    let services: Vec<ServiceView> = client.get("/services").await?;
    print_list(
        format,
        quiet,
        &services,
        |s| s.service.id.as_str(),
        service_table,
    )
}

async fn ps(
    client: &ApiClient,
    services: &[String],
    filter: &PsFilter,
    no_trunc: bool,
    quiet: bool,
    format: Format,
) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    let mut ports = BTreeMap::new();
    for service in services {
        let view = get_service(client, service).await?;
        let id = &view.service.id;
        let listed: Vec<TaskView> = client
            .get(&format!("/tasks?service={}", path_segment(id)))
            .await?;
        tasks.extend(listed.into_iter().filter(|t| filter.matches(t)));
        ports.insert(id.clone(), service_ports(&view).to_vec());
    }
    ps_order(&mut tasks);
    let options = PsOptions {
        no_trunc,
        now: now(),
    };
    print_list(
        format,
        quiet,
        &tasks,
        |t| short_id(&t.task.id, no_trunc),
        |t| task_table(t, &ports, options),
    )
}

async fn inspect(client: &ApiClient, services: &[String], human: bool) -> anyhow::Result<()> {
    let mut views = Vec::new();
    for service in services {
        views.push(get_service(client, service).await?);
    }
    if human {
        views.iter().for_each(|v| print!("{}", pretty(v)));
        Ok(())
    } else {
        print_json(&views)
    }
}

async fn scale(
    client: &ApiClient,
    specifiers: &[(String, u64)],
    flags: &WatchFlags,
) -> anyhow::Result<()> {
    let mut changed = Vec::new();
    let mut failures = Vec::new();
    for (service, replicas) in specifiers {
        let result = async {
            let view = current_service(client, service).await?;
            let spec = with_replicas(view.service.spec.clone(), *replicas, true)?;
            let after = send_update(client, &view, spec, false, "no_resolve_image=true").await?;
            anyhow::Ok(after)
        }
        .await;
        match result {
            Ok(after) => {
                println!("{service} scaled to {replicas}");
                changed.push(after);
            }
            Err(err) => failures.push(format!("{service}: {err:#}")),
        }
    }
    for after in changed {
        let watcher = Watcher::new(after.service.update_status.clone(), false, flags.timeout);
        if let Err(err) = follow(client, &after.service.id, watcher, flags).await {
            failures.push(format!("{}: {err:#}", after.service.spec.name));
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(())
}

/// Sends `spec` as `view`'s next version; refused if it changed since.
async fn send_update(
    client: &ApiClient,
    view: &ServiceView,
    spec: shoal_control::spec::ServiceSpec,
    force: bool,
    query: &str,
) -> anyhow::Result<ServiceView> {
    let request = ServiceUpdateRequest {
        spec,
        version: Some(view.service.version),
        force,
    };
    let path = format!(
        "/services/{}/update?{query}",
        path_segment(&view.service.id)
    );
    Ok(client.post(&path, &request).await?)
}

async fn update(client: &ApiClient, flags: &UpdateFlags) -> anyhow::Result<()> {
    let view = current_service(client, &flags.service).await?;
    let spec = update_spec(flags, view.service.spec.clone())?;
    if flags.rollback {
        if spec != view.service.spec || flags.force {
            bail!("--rollback cannot be combined with other changes to the service");
        }
        return rollback(client, &flags.service, &flags.watch).await;
    }
    let query = flags.images.query(flags.resolves_image());
    let after = send_update(client, &view, spec, flags.force, &query).await?;
    println!("{}", flags.service);
    let watcher = Watcher::new(
        after.service.update_status.clone(),
        false,
        flags.watch.timeout,
    );
    follow(client, &after.service.id, watcher, &flags.watch).await
}

async fn rollback(client: &ApiClient, service: &str, flags: &WatchFlags) -> anyhow::Result<()> {
    let path = format!("/services/{}/rollback", path_segment(service));
    let after: ServiceView = client.post(&path, &()).await?;
    println!("{service}");
    if let Some(status) = &after.service.update_status
        && !flags.quiet
        && !flags.detach
    {
        println!("rollback: {}", status.message);
    }
    let watcher = Watcher::new(after.service.update_status.clone(), true, flags.timeout);
    follow(client, &after.service.id, watcher, flags).await
}

async fn rm(client: &ApiClient, services: &[String]) -> anyhow::Result<()> {
    super::objects::remove_each(client, "/services", services).await
}
