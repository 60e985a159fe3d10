//! The layering check inside the use-case crate. The layers are crates (`guildbridge-domain`
//! with the clock, `guildbridge-discord`, `guildbridge-store` with the queue port,
//! `guildbridge-aws`, this one, `guildbridge-web`, `guildbridge-host`), so Cargo refuses any
//! edge up between them, and an inherent `impl` of a lower crate's type does not compile.
//! What Cargo cannot see is the order of the use cases inside this crate: every module sits
//! in a layer and may use only modules of lower layers. This reads the crate's own source
//! (`crate::` and `super::` paths, in code and doc links alike, `super::` inside groups
//! included), refuses an alias of the crate itself (`use crate as root`), and refuses an
//! inherent `impl` of another module's type. An edge pointing up fails the test suite.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// Each top-level module and its layer; a module may use only modules of lower layers (so
/// `channels` and `sync` do not use each other). The crates below are layer 0 here.
const LAYERS: &[(&str, u8)] = &[
    // The lower crates, re-exported under their module names.
    ("domain", 0),
    ("clock", 0),
    ("store", 0),
    ("queue", 0),
    ("discord", 0),
    ("aws", 0),
    // Domain events addressed to tenants and queued for delivery (the outbox).
    ("outbox", 2),
    // Running jobs from a queue, with recorded dead letters.
    ("worker", 3),
    // Deleting a disconnected guild's data (the leave job and the tick both do it).
    ("forget", 3),
    // Use cases.
    ("channels", 4),
    ("sync", 4),
    ("webhooks", 4),
    ("relay", 4),
    ("timeline", 4),
    ("interactions", 5),
    // One scheduled tick: the schedule, the timeline and the backfill together.
    ("tick", 5),
    // Signed fake interactions (never in a Lambda binary).
    ("test_support", 6),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|(_, layer)| *layer)
}

/// One use of a module that its layer does not allow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct UpwardEdge {
    file: String,
    from: String,
    to: String,
}

/// The module path a source file defines (`store/channels.rs` -> `store::channels`).
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" && stem != "lib" {
            parts.push(stem.to_owned());
        }
    }
    parts
}

fn identifier_at(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// The text from each item on, inside a `{...}` group that starts `text` (after the brace).
fn group_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = true;
    for (index, c) in text.char_indices() {
        match c {
            '{' if start && depth == 0 => {
                items.push(&text[index..]);
                start = false;
                depth += 1;
            }
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if c.is_whitespace() => {}
            _ if start && depth == 0 => {
                items.push(&text[index..]);
                start = false;
            }
            _ => {}
        }
    }
    items
}

/// The top-level modules a path names, from `base` (the module it is read in, climbed by
/// each `super`), through groups at any depth: `super::{super::host::X, y}`.
fn resolve(mut base: Vec<String>, text: &str, used: &mut BTreeSet<String>) {
    if let Some(group) = text.strip_prefix('{') {
        for item in group_items(group) {
            resolve(base.clone(), item, used);
        }
    } else if let Some(rest) = text.strip_prefix("super::") {
        base.pop();
        resolve(base, rest, used);
    } else {
        let head = identifier_at(text);
        if head.is_empty() || head == "self" {
            return;
        }
        match base.first() {
            Some(top) => used.insert(top.clone()),
            None => used.insert(head.to_owned()),
        };
    }
}

/// Where each `crate::` or `super::` path of `source` starts (after its prefix), with the
/// base it is resolved from.
fn paths<'a>(module: &[String], source: &'a str) -> Vec<(Vec<String>, &'a str)> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some((index, prefix)) = rest
        .find("crate::")
        .map(|i| (i, "crate::"))
        .into_iter()
        .chain(rest.find("super::").map(|i| (i, "super::")))
        .min()
    {
        let preceded_by_ident =
            rest[..index].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !preceded_by_ident {
            let mut base: Vec<String> = if prefix == "crate::" { Vec::new() } else { module.to_vec() };
            if prefix == "super::" {
                base.pop();
            }
            found.push((base, &rest[index + prefix.len()..]));
        }
        rest = &rest[index + prefix.len()..];
    }
    found
}

/// The top-level modules a file's source names through `crate::` and `super::` paths.
fn used_modules(module: &[String], source: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (base, path) in paths(module, source) {
        resolve(base, path, &mut used);
    }
    used
}

/// What a file does that no layer allows whatever it names: an alias of the crate itself
/// (which hides every path behind it from this check), or an inherent `impl` of a type of
/// another module (which adds to a lower layer from above).
fn forbidden(module: &[String], source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let compact: String = source.split_whitespace().collect::<Vec<_>>().join(" ");
    if compact.contains("crate as ") || compact.contains("extern crate self") {
        found.push("an alias of the crate".to_owned());
    }
    let Some(own) = module.first() else { return found };
    for (index, _) in compact.match_indices("impl") {
        let starts_item = index == 0 || compact[..index].ends_with([' ', '}', ';']);
        let header = compact[index + 4..].split('{').next().unwrap_or_default();
        if !starts_item || !header.starts_with([' ', '<']) || header.contains(" for ") {
            continue;
        }
        for (base, path) in paths(module, header) {
            let mut used = BTreeSet::new();
            resolve(base, path, &mut used);
            found.extend(used.into_iter().filter(|to| to != own).map(|to| format!("impl of a type of {to}")));
        }
    }
    found
}

/// Every use in `files` (path relative to `src/`, source) that points to a higher or equal
/// layer, or from or to a module no layer names.
fn upward_edges(files: &[(PathBuf, String)]) -> Vec<UpwardEdge> {
    let mut edges = Vec::new();
    for (path, source) in files {
        let module = module_path(path);
        let Some(from) = module.first() else { continue };
        for to in used_modules(&module, source).into_iter().filter(|to| to != from) {
            let allowed = matches!((layer(from), layer(&to)), (Some(from), Some(to)) if to < from);
            if !allowed {
                edges.push(UpwardEdge { file: path.display().to_string(), from: from.clone(), to });
            }
        }
        for to in forbidden(&module, source) {
            edges.push(UpwardEdge { file: path.display().to_string(), from: from.clone(), to });
        }
    }
    edges.sort();
    edges
}

fn sources(dir: &Path, root: &Path, files: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sources(&path, root, files)?;
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| path.clone());
            files.push((relative, std::fs::read_to_string(&path)?));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_uses_only_the_layers_below_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &root, &mut files).expect("the crate's source is readable");
        // lib.rs declares the modules; this file names them all in its table.
        files.retain(|(path, _)| path != Path::new("lib.rs") && path != Path::new("layers.rs"));
        assert!(files.len() > 40, "read the whole crate: {} files", files.len());
        let tops: BTreeSet<String> = files.iter().filter_map(|(path, _)| module_path(path).first().cloned()).collect();
        for top in &tops {
            assert!(layer(top).is_some(), "module `{top}` has no layer: add it to LAYERS");
        }
        assert_eq!(upward_edges(&files), [], "these uses point up the layers");
    }

    #[test]
    fn an_edge_that_points_up_or_sideways_is_refused() {
        let file = |path: &str, source: &str| (PathBuf::from(path), source.to_owned());
        let files = [
            file("outbox/mod.rs", "use crate::{\n    domain::Subject,\n    interactions::{commands::X, http},\n};"),
            file("worker/lambda.rs", "fn f() { crate::tick::run_tick(); }"),
            file("forget.rs", "//! See [`crate::tick`].\nuse super::host::Thing;"),
            file(
                "channels/worker/create.rs",
                "use super::{ChannelWorker, mention};\nuse super::super::super::sync::X;",
            ),
            file("sync/worker.rs", "use crate::{discord::rest, domain::{Job, SyncRun}, worker::Attempt};"),
            // The review's cases: `super` inside a group, an alias of the crate, an inherent impl.
            file("timeline/mod.rs", "use super::{super::host::X, channels::Y};"),
            file("webhooks/mod.rs", "use crate as root;\nfn f() { root::host::g(); }"),
            file("interactions/commands/mod.rs", "impl crate::channels::ChannelWorker {\n    fn f(&self) {}\n}"),
            file("interactions/x.rs", "impl Display for crate::channels::Y {}\nimpl<T> Foo<T> {}"),
        ];
        let found: Vec<(String, String)> = upward_edges(&files).into_iter().map(|edge| (edge.from, edge.to)).collect();
        let expected = [
            ("channels", "sync"),
            ("forget", "host"),
            ("forget", "tick"),
            ("interactions", "impl of a type of channels"),
            ("outbox", "interactions"),
            ("timeline", "channels"),
            ("timeline", "host"),
            ("webhooks", "an alias of the crate"),
            ("worker", "tick"),
        ];
        let mut found = found;
        found.sort();
        assert_eq!(found, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    }
}
