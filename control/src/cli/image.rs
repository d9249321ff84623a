//! `shoal image ...`: the image store of the node the CLI talks to.

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use shoal_control::api::{
    ApiClient, ImagePruneRequest, ImagePullRequest, ImageRemoveRequest, ImageView,
    ImagesRemovedView, LoadedImageView,
};
use shoal_control::runtime::image::{Reference, Target};

use super::api_conn::{ConnArgs, block_on};
use super::humanize::{human_size, short_id};
use super::output::{Format, Table, print_json, print_list};

/// `shoal image` and its connection options.
#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: ImageCommand,
}

/// `shoal image` subcommands.
#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// Load an image archive (`docker save` format) from a file or stdin.
    Load {
        /// Archive to read instead of standard input.
        #[arg(short, long)]
        input: Option<PathBuf>,
        /// Print nothing.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Pull an image from a registry named in the reference
    /// (`host:port/name[:tag|@digest]`; https with the node's `shoal
    /// login`, plain http for insecure registries).
    Pull {
        /// `host:port/name[:tag]` or `host:port/name@sha256:...`.
        reference: String,
        /// Print only the image name (or digest).
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Remove images (refused while a container on the node uses one); a
    /// name of an image with several only untags it.
    #[command(alias = "remove", alias = "rmi")]
    Rm {
        /// `repo[:tag]`, `repo@sha256:...` or image IDs.
        #[arg(required = true)]
        images: Vec<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Remove unused images: untagged ones, or with `--all` every image no
    /// container on the node uses.
    Prune {
        /// Every unused image, not only untagged ones.
        #[arg(short, long)]
        all: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List images.
    #[command(alias = "list")]
    Ls {
        /// Only IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Full IDs.
        #[arg(long)]
        no_trunc: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// What `image load` prints for the loaded images.
fn loaded_text(loaded: &[LoadedImageView]) -> String {
    loaded
        .iter()
        .map(|image| match &image.name {
            Some(name) => format!("Loaded image: {name}\n"),
            None => format!("Loaded image ID: {}\n", image.id),
        })
        .collect()
}

/// What `image pull` prints before asking the daemon, as Docker does.
fn pull_header(given: &str, reference: &Reference) -> String {
    let default_tag = match &reference.target {
        Target::Tag(tag) if !given.ends_with(&format!(":{tag}")) => "Using default tag: latest\n",
        _ => "",
    };
    let target = match &reference.target {
        Target::Tag(tag) => tag.clone(),
        Target::Digest(digest) => digest.to_string(),
    };
    let from = reference.repository_path();
    format!("{default_tag}{target}: Pulling from {from}\n")
}

/// What `image pull` prints once the daemon answered.
fn pulled_text(reference: &Reference, pulled: &LoadedImageView) -> String {
    let digest = pulled.digest.as_deref().unwrap_or(&pulled.id);
    let name = reference.to_string();
    let status = if pulled.up_to_date {
        format!("Image is up to date for {name}")
    } else {
        format!("Downloaded newer image for {name}")
    };
    format!("Digest: {digest}\nStatus: {status}\n{name}\n")
}

/// `sha256:abc...` cut to 12 hex digits, as Docker shows image IDs.
fn image_id(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        return id;
    }
    short_id(id.strip_prefix("sha256:").unwrap_or(id), false)
}

fn image_table(images: &[ImageView], no_trunc: bool) -> Table {
    let mut table = Table::new(&["REPOSITORY", "TAG", "IMAGE ID", "SIZE"]);
    let mut sorted: Vec<&ImageView> = images.iter().collect();
    sorted.sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)));
    for image in sorted {
        table.row(vec![
            image.repository.clone(),
            image.tag.clone(),
            image_id(&image.id, no_trunc).to_owned(),
            human_size(image.size),
        ]);
    }
    table
}

/// Docker's `Untagged:` / `Deleted:` lines.
fn removed_text(removed: &ImagesRemovedView) -> String {
    let untagged = removed.untagged.iter().map(|n| format!("Untagged: {n}\n"));
    let deleted = removed.deleted.iter().map(|d| format!("Deleted: {d}\n"));
    untagged.chain(deleted).collect()
}

/// `image rm`: every image in turn; the first failure ends it.
async fn remove(client: &ApiClient, images: Vec<String>, format: Format) -> anyhow::Result<()> {
    let mut all = Vec::new();
    for reference in images {
        let request = ImageRemoveRequest { reference };
        let removed: ImagesRemovedView = client.post("/images/remove", &request).await?;
        if format == Format::Table {
            print!("{}", removed_text(&removed));
        }
        all.push(removed);
    }
    if format == Format::Json {
        return print_json(&all);
    }
    Ok(())
}

fn read_archive(input: Option<&PathBuf>) -> anyhow::Result<Vec<u8>> {
    if let Some(path) = input {
        return std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    }
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        bail!("requested load from stdin, but stdin is empty (use -i FILE or a pipe)");
    }
    let mut data = Vec::new();
    stdin
        .read_to_end(&mut data)
        .context("cannot read the archive from standard input")?;
    Ok(data)
}

/// Runs a `shoal image` command.
pub fn run(args: ImageArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    block_on(async move {
        match args.command {
            ImageCommand::Load { input, quiet } => {
                let archive = read_archive(input.as_ref())?;
                if archive.is_empty() {
                    bail!("the image archive is empty");
                }
                let loaded: Vec<LoadedImageView> = client
                    .post_bytes("/images/load", archive, "application/x-tar")
                    .await?;
                if !quiet {
                    print!("{}", loaded_text(&loaded));
                }
                Ok(())
            }
            ImageCommand::Pull {
                reference,
                quiet,
                format,
            } => {
                let parsed = Reference::parse(&reference)?;
                if !quiet && format == Format::Table {
                    print!("{}", pull_header(&reference, &parsed));
                }
                let request = ImagePullRequest { reference };
                let pulled: Vec<LoadedImageView> = client.post("/images/pull", &request).await?;
                if format == Format::Json {
                    return print_json(&pulled);
                }
                let image = pulled
                    .first()
                    .context("the daemon reported no pulled image")?;
                if quiet {
                    println!("{parsed}");
                } else {
                    print!("{}", pulled_text(&parsed, image));
                }
                Ok(())
            }
            ImageCommand::Rm { images, format } => remove(&client, images, format).await,
            ImageCommand::Prune { all, format } => {
                let request = ImagePruneRequest { all };
                let removed: ImagesRemovedView = client.post("/images/prune", &request).await?;
                if format == Format::Json {
                    return print_json(&removed);
                }
                print!("{}", removed_text(&removed));
                println!("Total reclaimed space: {}", human_size(removed.reclaimed));
                Ok(())
            }
            ImageCommand::Ls {
                quiet,
                no_trunc,
                format,
            } => {
                let images: Vec<ImageView> = client.get("/images").await?;
                print_list(
                    format,
                    quiet,
                    &images,
                    |i| image_id(&i.id, no_trunc),
                    |i| image_table(i, no_trunc),
                )
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_reports_names_or_ids_like_docker() {
        let loaded = [
            LoadedImageView {
                name: Some("busybox:latest".into()),
                id: "sha256:aa".into(),
                digest: None,
                up_to_date: false,
                downloaded_blobs: None,
            },
            LoadedImageView {
                name: None,
                id: "sha256:bb".into(),
                digest: None,
                up_to_date: false,
                downloaded_blobs: None,
            },
        ];
        assert_eq!(
            loaded_text(&loaded),
            "Loaded image: busybox:latest\nLoaded image ID: sha256:bb\n"
        );
    }

    #[test]
    fn pull_reports_like_docker() {
        let reference = Reference::parse("127.0.0.1:5000/team/app").unwrap();
        assert_eq!(
            pull_header("127.0.0.1:5000/team/app", &reference),
            "Using default tag: latest\nlatest: Pulling from 127.0.0.1:5000/team/app\n"
        );
        let tagged = Reference::parse("127.0.0.1:5000/team/app:1").unwrap();
        assert_eq!(
            pull_header("127.0.0.1:5000/team/app:1", &tagged),
            "1: Pulling from 127.0.0.1:5000/team/app\n"
        );
        let mut pulled = LoadedImageView {
            name: Some("127.0.0.1:5000/team/app:1".into()),
            id: "sha256:aa".into(),
            digest: Some("sha256:mm".into()),
            up_to_date: false,
            downloaded_blobs: Some(3),
        };
        assert_eq!(
            pulled_text(&tagged, &pulled),
            "Digest: sha256:mm\n\
             Status: Downloaded newer image for 127.0.0.1:5000/team/app:1\n\
             127.0.0.1:5000/team/app:1\n"
        );
        pulled.up_to_date = true;
        assert!(
            pulled_text(&tagged, &pulled)
                .contains("Status: Image is up to date for 127.0.0.1:5000/team/app:1\n")
        );
    }

    #[test]
    fn ls_shows_short_ids_and_sizes() {
        let image = ImageView {
            digest: None,
            repository: "busybox".into(),
            tag: "latest".into(),
            id: "sha256:0123456789abcdef0123".into(),
            size: 4_261_000,
        };
        assert_eq!(
            image_table(std::slice::from_ref(&image), false).render(),
            "REPOSITORY   TAG      IMAGE ID       SIZE\n\
             busybox      latest   0123456789ab   4.26MB\n"
        );
        let full = image_table(&[image], true).render();
        assert!(full.contains("sha256:0123456789abcdef0123"));
    }
}
