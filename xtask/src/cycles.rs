//! The import-circle guard: inside every crate, no module imports a sibling
//! that imports it back (directly or around a longer circle). Cargo keeps
//! crates acyclic; this keeps the modules inside them so. It reads the
//! sources as text (`crate::` and `super::` paths, `use super::{..}`
//! groups), skipping test files, and checks every directory's children.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

/// A module path inside a crate: `["daemon", "boot"]`.
type ModPath = Vec<String>;

/// Source roots checked, relative to the workspace root.
pub const ROOTS: &[&str] = &[
    "control/src",
    "control/crates/agent/src",
    "control/crates/ctl/src",
    "control/crates/manager/src",
    "control/crates/model/src",
    "control/crates/raft/src",
    "control/crates/runtime/src",
    "control/crates/security/src",
    "dataplane/src",
    "dataplane-ebpf/src",
    "dataplane-ebpf/common/src",
    "netns-tests/src",
    "xtask/src",
    "xtask/lab/src",
];

/// Checks every root under `workspace`; the error lists each circle.
pub fn check(workspace: &Path) -> Result<()> {
    let mut circles = Vec::new();
    for root in ROOTS {
        let sources = read_sources(&workspace.join(root))?;
        for circle in circles_in(&sources) {
            circles.push(format!("{root}: {}", circle.join(" ↔ ")));
        }
    }
    if !circles.is_empty() {
        bail!(
            "modules that import each other back: {}",
            circles.join("; ")
        );
    }
    println!("cycles: no module imports one that imports it back");
    Ok(())
}

/// Every non-test `.rs` file under `root` as (module path, is a `mod.rs`/
/// `lib.rs`/`main.rs`, text).
fn read_sources(root: &Path) -> Result<Vec<(ModPath, String)>> {
    let mut files = Vec::new();
    collect(root, &mut files)?;
    let mut sources = Vec::new();
    for file in files {
        let name = file.file_stem().unwrap_or_default().to_string_lossy();
        if name.contains("test") {
            continue;
        }
        let rel = file.strip_prefix(root).unwrap_or(&file).with_extension("");
        let mut path: ModPath = rel
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        if matches!(
            path.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            path.pop();
        }
        let text =
            fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        sources.push((path, text));
    }
    Ok(sources)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The circles among sibling modules of `sources`, each as sibling names.
pub fn circles_in(sources: &[(ModPath, String)]) -> Vec<Vec<String>> {
    let modules: BTreeSet<&ModPath> = sources.iter().map(|(m, _)| m).collect();
    // Sibling edges: under each parent, child a → child b.
    let mut edges: BTreeMap<ModPath, BTreeSet<(String, String)>> = BTreeMap::new();
    for (module, text) in sources {
        for target in imports(module, text) {
            let Some(target) = longest_module(&modules, &target) else {
                continue;
            };
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common == module.len() || common == target.len() {
                continue; // a parent or a child: not a sibling edge
            }
            edges
                .entry(module[..common].to_vec())
                .or_default()
                .insert((module[common].clone(), target[common].clone()));
        }
    }
    edges.values().flat_map(strongly_connected).collect()
}

/// Module paths `text` (in `module`) refers to through `crate::` and `super::`.
fn imports(module: &ModPath, text: &str) -> Vec<ModPath> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // `shoal_crate::` or similar
        }
        out.push(path_words(&code[i + "crate::".len()..]));
    }
    for (i, _) in code.match_indices("super::") {
        if i >= "super::".len() && code[..i].ends_with("super::") {
            continue; // counted from the first `super::`
        }
        let mut rest = &code[i..];
        let mut base = module.clone();
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let words = path_words(item.trim());
                if words.first().is_some_and(|w| w != "self") {
                    out.push([base.clone(), words].concat());
                }
            }
        } else {
            out.push([base, path_words(rest)].concat());
        }
    }
    out
}

/// The `a::b::c` words at the start of `s`.
fn path_words(s: &str) -> ModPath {
    let mut words = Vec::new();
    let mut rest = s;
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        words.push(rest[..end].to_owned());
        match rest[end..].strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    words
}

/// The longest prefix of `path` that is a module.
fn longest_module(modules: &BTreeSet<&ModPath>, path: &ModPath) -> Option<ModPath> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

/// The strongly connected components of more than one node (Tarjan).
fn strongly_connected(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let names: Vec<&String> = edges
        .iter()
        .flat_map(|(a, b)| [a, b])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let id = |n: &String| names.iter().position(|m| *m == n).unwrap_or(0);
    let mut adjacency = vec![Vec::new(); names.len()];
    for (a, b) in edges {
        adjacency[id(a)].push(id(b));
    }
    let mut tarjan = Tarjan {
        next: 0,
        adjacency,
        index: vec![None; names.len()],
        low: vec![0; names.len()],
        stack: Vec::new(),
        components: Vec::new(),
    };
    for v in 0..names.len() {
        if tarjan.index[v].is_none() {
            tarjan.visit(v);
        }
    }
    tarjan
        .components
        .into_iter()
        .map(|c| {
            let mut named: Vec<String> = c.into_iter().map(|i| names[i].clone()).collect();
            named.sort();
            named
        })
        .collect()
}

/// Tarjan's algorithm over node numbers.
struct Tarjan {
    next: usize,
    adjacency: Vec<Vec<usize>>,
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    stack: Vec<usize>,
    components: Vec<Vec<usize>>,
}

impl Tarjan {
    fn visit(&mut self, v: usize) {
        let i = self.next;
        self.next += 1;
        self.index[v] = Some(i);
        self.low[v] = i;
        self.stack.push(v);
        for w in self.adjacency[v].clone() {
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(wi) if self.stack.contains(&w) => self.low[v] = self.low[v].min(wi),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                self.components.push(component);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::circles_in;

    fn src(path: &str, text: &str) -> (Vec<String>, String) {
        let path = path
            .split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        (path, text.to_owned())
    }

    #[test]
    fn a_sibling_circle_is_found_through_super_groups_and_crate_paths() {
        let sources = [
            src("", "mod daemon;"),
            src("daemon", "mod boot; mod roles; mod calls;"),
            src("daemon/boot", "use super::{roles, calls::put};"),
            src(
                "daemon/roles",
                "fn f() { crate::daemon::boot::activate(); }",
            ),
            src("daemon/calls", "use super::super::daemon;"),
        ];
        assert_eq!(circles_in(&sources), [["boot", "roles"]]);
    }

    #[test]
    fn the_workspace_has_none() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        super::check(&root).expect("no import circles");
    }

    #[test]
    fn imports_that_point_one_way_or_to_a_parent_pass() {
        let sources = [
            src("", "mod a; mod b;"),
            src(
                "a",
                "use crate::b::Thing; // crate::a is fine in a comment: crate::b",
            ),
            src("b", "use super::Root; fn f() -> shoal_crate::a::X {}"),
        ];
        assert!(circles_in(&sources).is_empty());
    }
}
