//! The layer order of `server/src`, read from the source (docs/architecture.md, "Layers"): a
//! module imports only modules of a lower layer, and the files of one module import each
//! other without a circle. A failure names the file, the line and the import.
//!
//! An import is any `crate::<module>` (or, between the files of a module, `super::<file>`)
//! outside a `//` comment line, in tests too. A path through a module's re-exports
//! (`super::Item`) is not followed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The library's modules from the bottom up. A module may import only modules of the layers
/// before its own.
const LAYERS: &[&[&str]] = &[
    &["transport"],
    &["documents", "holes", "models", "test_support"],
    &["config", "store", "lean"],
    &["router", "pipeline"],
    &["verify", "engine"],
    &["launch"],
    &["isolation"],
    &["cli"],
    &["editor"],
];

/// Imports inside one layer that are known and not yet untangled (none today: the last one,
/// `cli` ↔ `isolation`, went when starting Lean moved to `launch`).
const KNOWN_CIRCLES: &[(&str, &str)] = &[];

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The `.rs` files under `dir`, recursively, in a stable order.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("the source folder is readable")
        .map(|entry| entry.expect("a readable entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// Every `<prefix><name>` on the code lines of `text`, with its 1-based line number. A
/// grouped `crate::{…}` is reported as the name `{`, so that it cannot hide an import.
fn imports<'t>(text: &'t str, prefix: &str) -> Vec<(usize, &'t str)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for (at, _) in line.match_indices(prefix) {
            let preceded_by_name = line[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            if preceded_by_name {
                continue;
            }
            let rest = &line[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = if end == 0 && rest.starts_with('{') {
                "{"
            } else {
                &rest[..end]
            };
            if !name.is_empty() {
                found.push((index + 1, name));
            }
        }
    }
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("a source file is readable")
}

#[test]
fn modules_import_only_lower_layers() {
    let root = source_root();
    let mut problems = Vec::new();
    let mut modules: Vec<_> = std::fs::read_dir(&root)
        .expect("server/src is readable")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.is_dir())
        .collect();
    modules.sort();
    for dir in modules {
        let module = dir
            .file_name()
            .and_then(|name| name.to_str())
            .expect("a UTF-8 module name")
            .to_owned();
        let Some(layer) = layer_of(&module) else {
            problems.push(format!(
                "server/src/{module} has no layer: add it to LAYERS in server/tests/it/layers.rs and to the layer order in docs/architecture.md"
            ));
            continue;
        };
        for file in rust_files(&dir) {
            let text = read(&file);
            for (line, imported) in imports(&text, "crate::") {
                if imported == module || KNOWN_CIRCLES.contains(&(module.as_str(), imported)) {
                    continue;
                }
                let allowed = layer_of(imported).is_some_and(|other| other < layer);
                if !allowed {
                    problems.push(format!(
                        "{}:{line}: `{module}` imports `crate::{imported}`, which is not in a lower layer",
                        file.strip_prefix(&root).unwrap_or(&file).display()
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the layer order is broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_files_of_a_module_import_each_other_without_a_circle() {
    let root = source_root();
    let mut problems = Vec::new();
    for module in LAYERS.iter().flat_map(|layer| layer.iter()) {
        let dir = root.join(module);
        if !dir.is_dir() {
            continue;
        }
        // File name (without `.rs`) → the sibling files it imports, with where.
        let mut graph: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
        let files: Vec<String> = rust_files(&dir)
            .iter()
            .filter(|path| path.parent() == Some(dir.as_path()))
            .filter_map(|path| path.file_stem()?.to_str().map(str::to_owned))
            .filter(|name| name != "mod")
            .collect();
        for file in &files {
            let text = read(&dir.join(format!("{file}.rs")));
            let own = format!("crate::{module}::");
            let mut edges: Vec<(String, usize)> = imports(&text, "super::")
                .into_iter()
                .chain(imports(&text, &own))
                .filter(|(_, name)| files.iter().any(|f| f == name) && name != file)
                .map(|(line, name)| (name.to_owned(), line))
                .collect();
            edges.sort();
            edges.dedup_by(|a, b| a.0 == b.0);
            graph.insert(file.clone(), edges);
        }
        if let Some(circle) = find_circle(&graph) {
            problems.push(format!("server/src/{module}: {}", circle.join(" → ")));
        }
    }
    assert!(
        problems.is_empty(),
        "import circles between the files of a module (each step is `file.rs:line imports`):\n{}",
        problems.join("\n")
    );
}

/// One circle of `graph`, as `file.rs:line` steps ending where it started, if there is one.
fn find_circle(graph: &BTreeMap<String, Vec<(String, usize)>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, Vec<(String, usize)>>,
        path: &mut Vec<(String, usize)>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if done.iter().any(|d| d == node) {
            return None;
        }
        if let Some(start) = path.iter().position(|(n, _)| n == node) {
            let mut steps: Vec<String> = path[start..]
                .iter()
                .map(|(n, line)| format!("{n}.rs:{line}"))
                .collect();
            steps.push(format!("{node}.rs"));
            return Some(steps);
        }
        for (next, line) in graph.get(node).into_iter().flatten() {
            path.push((node.to_owned(), *line));
            let circle = visit(next, graph, path, done);
            path.pop();
            if circle.is_some() {
                return circle;
            }
        }
        done.push(node.to_owned());
        None
    }
    let mut done = Vec::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_checks_see_an_import_and_a_circle() {
    // The readers above must find what they look for, or both checks pass vacuously.
    let text = "// use crate::editor::Hidden;\nuse crate::pipeline::Verdict;\n    let x = crate::{a, b};\nfoo::crate::bar\n";
    assert_eq!(imports(text, "crate::"), [(2, "pipeline"), (3, "{")]);
    let graph: BTreeMap<String, Vec<(String, usize)>> = [
        ("a".to_owned(), vec![("b".to_owned(), 3)]),
        ("b".to_owned(), vec![("a".to_owned(), 7)]),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        find_circle(&graph),
        Some(vec![
            "a.rs:3".to_owned(),
            "b.rs:7".to_owned(),
            "a.rs".to_owned()
        ])
    );
}
