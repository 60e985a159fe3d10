//! The layering check: every module of this crate sits in a layer, and may use only modules
//! of lower layers. It reads the crate's own source (`crate::` and `super::` paths, in code
//! and in doc links alike), so an edge pointing up fails the test suite, and with it CI.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// Each top-level module and its layer; a module may use only modules of lower layers (so
/// the adapters do not use each other, nor do `channels` and `sync`).
const LAYERS: &[(&str, u8)] = &[
    // Pure data and rules, and where "now" comes from.
    ("domain", 0),
    ("clock", 0),
    // Adapters, each over the domain alone.
    ("store", 1),
    ("queue", 1),
    ("discord", 1),
    // Domain events addressed to tenants and queued for delivery (the outbox).
    ("events", 2),
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
    ("api", 5),
    // One scheduled tick: the schedule, the timeline and the backfill together.
    ("tick", 5),
    // The settings page, over the tenant API's connect flow and views.
    ("pages", 6),
    // Start-up, configuration and wiring; test support (never in a Lambda binary).
    ("host", 7),
    ("test_support", 7),
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

/// The first path segments inside a `{...}` group that starts `text` (after the brace).
fn group_heads(text: &str) -> Vec<&str> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut start = true;
    for (index, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if c.is_whitespace() => {}
            _ if start && depth == 0 => {
                heads.push(identifier_at(&text[index..]));
                start = false;
            }
            _ => start = false,
        }
    }
    heads
}

/// The top-level modules a file's source names through `crate::` and `super::` paths.
fn used_modules(module: &[String], source: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest
        .find("crate::")
        .map(|i| (i, "crate::"))
        .into_iter()
        .chain(rest.find("super::").map(|i| (i, "super::")))
        .min()
    {
        let (index, prefix) = at;
        let preceded_by_ident =
            rest[..index].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let mut after = &rest[index + prefix.len()..];
        if !preceded_by_ident {
            // `super::super::x` climbs one module per `super`.
            let mut base: Vec<String> = if prefix == "crate::" { Vec::new() } else { module.to_vec() };
            if prefix == "super::" {
                base.pop();
                while let Some(stripped) = after.strip_prefix("super::") {
                    base.pop();
                    after = stripped;
                }
            }
            let heads: Vec<&str> =
                if let Some(group) = after.strip_prefix('{') { group_heads(group) } else { vec![identifier_at(after)] };
            for head in heads.into_iter().filter(|head| !head.is_empty() && *head != "self") {
                match base.first() {
                    Some(top) => used.insert(top.clone()),
                    None => used.insert(head.to_owned()),
                };
            }
        }
        rest = &rest[index + prefix.len()..];
    }
    used
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
            file("store/channels.rs", "use crate::{\n    domain::Subject,\n    interactions::{commands::X, http},\n};"),
            file("queue/sqs.rs", "fn f() { crate::store::Store::new(); }"),
            file("domain/mod.rs", "//! See [`crate::clock`].\nuse super::host::Thing;"),
            file(
                "channels/worker/create.rs",
                "use super::{ChannelWorker, mention};\nuse super::super::super::sync::X;",
            ),
            file("sync/worker.rs", "use crate::{discord::rest, domain::{Job, SyncRun}, worker::Attempt};"),
        ];
        let found: Vec<(String, String)> = upward_edges(&files).into_iter().map(|edge| (edge.from, edge.to)).collect();
        let expected = [
            ("channels", "sync"),
            ("domain", "clock"),
            ("domain", "host"),
            ("queue", "store"),
            ("store", "interactions"),
        ];
        assert_eq!(found, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    }
}
