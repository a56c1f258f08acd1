//! The layers of kfp-sdk, checked on its sources: `ir` imports nothing else of the crate, a
//! backend (`argo`, `local`) never imports the other, and the top-level modules import each
//! other without a cycle. `docs/architecture.md` draws the layers.
//!
//! The check reads the `crate::NAME` paths of each file under `src/` (comments and test
//! modules left out) and maps each to its top-level module. Code in `src/` names what it uses
//! by its module (`crate::ir::graph::Task`), not by a re-export at the crate root
//! (`crate::graph::Task`), so that every dependency is visible here.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, each a layer.
const MODULES: &[&str] = &["ir", "dsl", "runtime", "local", "argo", "cli"];
/// What the ground floor may not import.
const ABOVE_IR: &[&str] = &["dsl", "runtime", "local", "argo", "cli"];
/// The backends: none imports another.
const BACKENDS: &[&str] = &["argo", "local"];

/// The top-level module a file belongs to (`ir/graph.rs` → `ir`), or `None` for the crate
/// root and test-only files.
fn module_of(relative: &str) -> Option<&str> {
    let first = relative.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    let test_only =
        relative.ends_with("/tests.rs") || relative.contains("/tests/") || name == "test_fixtures";
    (name != "lib" && !test_only).then_some(name)
}

/// The code of a file without comments and without its test module (`#[cfg(test)]` followed
/// by `mod ...`, which by this crate's convention ends the file).
fn code_of(source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut code = String::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .get(i + 1)
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let without_comment = match line.find("//") {
            // A `//` inside a string (a URL) is rare in this crate; a trailing comment is not.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        code.push_str(without_comment);
        code.push('\n');
    }
    code
}

/// Every name that follows `crate::` in `code`, grouped imports (`crate::{a::x, b}`)
/// included.
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        // `$crate::` in a macro is the same crate seen from outside: the same rule.
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        rest = &group[i..];
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if item_start && !c.is_whitespace() {
                    found.insert(ident(&group[i..]));
                    item_start = false;
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.remove("");
    found
}

/// Everything wrong with the layering of these files (path relative to `src/`, content).
fn layering_violations(files: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (path, source) in files {
        let Some(module) = module_of(path) else {
            continue;
        };
        if !MODULES.contains(&module) {
            problems.push(format!(
                "{path}: top-level module '{module}' is in no layer (add it to MODULES)"
            ));
            continue;
        }
        for name in crate_references(&code_of(source)) {
            if !MODULES.contains(&name.as_str()) {
                problems.push(format!(
                    "{path}: uses crate::{name}, a re-export at the crate root; name the module \
                     it lives in"
                ));
                continue;
            }
            if name == module {
                continue;
            }
            if module == "ir" && ABOVE_IR.contains(&name.as_str()) {
                problems.push(format!("{path}: ir imports crate::{name}"));
            }
            if BACKENDS.contains(&module) && BACKENDS.contains(&name.as_str()) {
                problems.push(format!("{path}: backend {module} imports backend {name}"));
            }
            edges.entry(module).or_default().insert(name);
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        problems.push(format!("import cycle: {}", cycle.join(" -> ")));
    }
    problems
}

/// One cycle of the graph, if it has any, as the modules along it (the first repeated last).
fn find_cycle(edges: &BTreeMap<&str, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<&str, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

fn rust_files(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((relative, source));
        }
    }
}

#[test]
fn the_sources_keep_their_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &src, &mut files);
    assert!(files.len() > 30, "read only {} files", files.len());
    let problems = layering_violations(&files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn file(path: &str, source: &str) -> (String, String) {
    (path.to_owned(), source.to_owned())
}

#[test]
fn the_checker_finds_each_kind_of_violation() {
    let clean = vec![
        file("ir/graph.rs", "use super::value::ValueSource;\n"),
        file("dsl/mod.rs", "use crate::ir::graph::PipelineGraph;\n"),
        file(
            "runtime/registry.rs",
            "use crate::{dsl::BuildError, ir::{graph::PipelineGraph, names}};\n",
        ),
        file(
            "argo/mod.rs",
            "use crate::runtime::paths;\nuse crate::ir;\n",
        ),
        file("local/run.rs", "use crate::runtime::fs;\n"),
        file("cli/mod.rs", "use crate::argo;\nuse crate::local;\n"),
        // Comments, tests and test-only files may mention anything.
        file(
            "ir/control.rs",
            "//! made by [`crate::dsl::when`]\nfn f() {} // see crate::argo\n\
             #[cfg(test)]\nmod tests {\n    use crate::dsl::TaskBuilder;\n}\n",
        ),
        file("ir/validate/tests.rs", "use crate::dsl::PipelineBuilder;\n"),
        file("test_fixtures.rs", "use crate::dsl::TaskBuilder;\n"),
        file("lib.rs", "pub use ir::graph;\n"),
    ];
    assert_eq!(layering_violations(&clean), Vec::<String>::new());

    let with = |extra: (String, String)| {
        let mut files = clean.clone();
        files.push(extra);
        layering_violations(&files)
    };
    assert_eq!(
        with(file("ir/config.rs", "use crate::argo::model;\n")),
        [
            "ir/config.rs: ir imports crate::argo",
            "import cycle: argo -> ir -> argo"
        ]
    );
    assert_eq!(
        with(file(
            "ir/param.rs",
            "use crate::{dsl::ParamRef, ir::names};\n"
        )),
        [
            "ir/param.rs: ir imports crate::dsl",
            "import cycle: ir -> dsl -> ir"
        ]
    );
    assert_eq!(
        with(file("argo/kinds.rs", "fn f() { crate::local::run(); }\n")),
        ["argo/kinds.rs: backend argo imports backend local"]
    );
    assert_eq!(
        with(file("runtime/outputs.rs", "use crate::cli::run;\n")),
        ["import cycle: argo -> runtime -> cli -> argo"]
    );
    assert_eq!(
        with(file("dsl/task.rs", "use crate::PipelineGraph;\n")),
        [
            "dsl/task.rs: uses crate::PipelineGraph, a re-export at the crate root; name the \
             module it lives in"
        ]
    );
    assert_eq!(
        with(file("kubernetes.rs", "use crate::ir;\n")),
        ["kubernetes.rs: top-level module 'kubernetes' is in no layer (add it to MODULES)"]
    );
}
