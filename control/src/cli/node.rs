//! `shoal node ...`: list, inspect and change the swarm's nodes.

use clap::{Args, Subcommand};
use serde_json::Value;
use shoal_control::api::NodeView;
use shoal_control::cluster::{LabelChange, NodeUpdate};

use super::api_conn::{ConnArgs, block_on};
use super::output::{Format, Table, print, print_json};

/// `shoal node` and its connection options.
#[derive(Debug, Args)]
pub struct NodeArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: NodeCommand,
}

/// `shoal node` subcommands.
#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// List the swarm's nodes (on a manager).
    Ls {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Only what a quorum confirms is current (fails without a
        /// quorum), instead of this manager's possibly lagging view.
        #[arg(long)]
        consistent: bool,
    },
    /// Show nodes in detail (JSON).
    Inspect {
        /// Node IDs, ID prefixes or hostnames.
        #[arg(required = true)]
        nodes: Vec<String>,
        /// A human-readable summary instead of JSON.
        #[arg(long)]
        pretty: bool,
        /// Only what a quorum confirms is current (fails without a
        /// quorum), instead of this manager's possibly lagging view.
        #[arg(long)]
        consistent: bool,
    },
    /// Make workers managers.
    Promote {
        /// Nodes.
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Make managers workers.
    Demote {
        /// Nodes.
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Change a node's availability or labels.
    Update {
        /// active, pause or drain.
        #[arg(long)]
        availability: Option<String>,
        /// Add or change a label (key=value).
        #[arg(long = "label-add")]
        label_add: Vec<String>,
        /// Remove a label.
        #[arg(long = "label-rm")]
        label_rm: Vec<String>,
        /// The node.
        node: String,
    },
    /// Remove nodes from the swarm.
    Rm {
        /// Remove a node that is not down.
        #[arg(short, long)]
        force: bool,
        /// Nodes.
        #[arg(required = true)]
        nodes: Vec<String>,
    },
}

/// Capitalised like Docker's columns (`ready` → `Ready`).
fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn node_table(nodes: &Vec<NodeView>) -> Table {
    let mut table = Table::new(&[
        "ID",
        "HOSTNAME",
        "STATUS",
        "AVAILABILITY",
        "MANAGER STATUS",
        "ENGINE VERSION",
    ]);
    for node in nodes {
        let r = &node.record;
        let id = if node.is_self {
            format!("{} *", r.id)
        } else {
            r.id.clone()
        };
        table.row(vec![
            id,
            r.hostname.clone(),
            title(r.status.as_str()),
            title(r.availability.as_str()),
            node.manager_status.clone().unwrap_or_default(),
            r.engine_version.clone(),
        ]);
    }
    table
}

fn pretty(node: &NodeView) -> String {
    let r = &node.record;
    let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "ID:\t\t\t{}\nHostname:\t\t{}\nStatus:\t\t\t{}\nAvailability:\t\t{}\nRole:\t\t\t{:?}\n\
         Manager Status:\t\t{}\nAddress:\t\t{}\nLabels:\t\t\t{}\nEngine Version:\t\t{}\n",
        r.id,
        r.hostname,
        title(r.status.as_str()),
        title(r.availability.as_str()),
        r.role,
        node.manager_status.clone().unwrap_or_else(|| "-".into()),
        r.addr,
        labels.join(", "),
        r.engine_version,
    )
}

/// Runs a `shoal node` command.
pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    block_on(async move {
        match args.command {
            NodeCommand::Ls { format, consistent } => {
                let path = format!("/nodes?consistent={consistent}");
                let mut nodes: Vec<NodeView> = client.get(&path).await?;
                nodes.sort_by(|a, b| a.record.hostname.cmp(&b.record.hostname));
                print(format, &nodes, node_table)
            }
            NodeCommand::Inspect {
                nodes,
                pretty: human,
                consistent,
            } => {
                let mut views = Vec::new();
                for node in nodes {
                    let path = format!("/nodes/{node}?consistent={consistent}");
                    let view: NodeView = client.get(&path).await?;
                    views.push(view);
                }
                if human {
                    views.iter().for_each(|v| print!("{}", pretty(v)));
                    Ok(())
                } else {
                    print_json(&views)
                }
            }
            NodeCommand::Promote { nodes } => {
                for node in nodes {
                    let _: Value = client.post(&format!("/nodes/{node}/promote"), &()).await?;
                    println!("Node {node} promoted to a manager in the swarm.");
                }
                Ok(())
            }
            NodeCommand::Demote { nodes } => {
                for node in nodes {
                    let _: Value = client.post(&format!("/nodes/{node}/demote"), &()).await?;
                    println!("Manager {node} demoted in the swarm.");
                }
                Ok(())
            }
            NodeCommand::Update {
                availability,
                label_add,
                label_rm,
                node,
            } => {
                let mut labels: Vec<LabelChange> =
                    label_add.into_iter().map(LabelChange::Add).collect();
                labels.extend(label_rm.into_iter().map(LabelChange::Remove));
                let update = NodeUpdate {
                    availability,
                    labels,
                };
                let view: NodeView = client
                    .post(&format!("/nodes/{node}/update"), &update)
                    .await?;
                println!("{}", view.record.id);
                Ok(())
            }
            NodeCommand::Rm { force, nodes } => {
                for node in nodes {
                    let _: Value = client
                        .delete(&format!("/nodes/{node}?force={force}"))
                        .await?;
                    println!("{node}");
                }
                Ok(())
            }
        }
    })
}
