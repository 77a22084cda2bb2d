//! The dependency rule of docs/ARCHITECTURE.md, enforced (and, at the end, the size rule: no
//! file past 600 lines, no function past 80): every `crate::<module>` path in the
//! library (`use` lines, grouped `use crate::{a, b}`, inline paths in code, `super::` chains that
//! climb out of a module) must point down the layer table below, never up or sideways. A
//! module that reaches a layer above it fails this test with the file and the edge named.
//!
//! The binaries (`src/main.rs`, `src/bin/`) sit on top and may use anything. Comments, string
//! literals and character literals are blanked before scanning, so a doc link such as
//! ``[`crate::api`]`` is not an edge.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import modules of a strictly lower layer (and
/// itself); never one of its own layer or above.
const LAYERS: &[(&str, &[&str])] = &[
    // Pure text helpers the pure leaves may use: masking a URL's password (config's `Debug`).
    ("text", &["redact"]),
    // Pure leaves: no I/O, no imports of ours but the text helpers.
    (
        "pure leaves",
        &[
            "timestamp",
            "schedule",
            "apikey",
            "config",
            "error_chain",
            "telemetry",
            "failpoint",
        ],
    ),
    // What a job does: the `Action` definition and its executors (process, HTTP).
    ("actions", &["actions"]),
    // Pure domain types: jobs, runs, roles, the misfire plan; name triggers and actions.
    ("model", &["model"]),
    // Everything SQL. Called by every layer above.
    ("store", &["store"]),
    // The firing loop: claims due occurrences from the store, runs them through actions.
    ("scheduler", &["scheduler"]),
    // HTTP: handlers, auth, errors-to-JSON. Calls the scheduler (wake-ups) and the store.
    ("api", &["api"]),
    // Wiring: opens the store, starts the scheduler and the server.
    ("startup", &["startup"]),
];

/// Temporary exceptions, each naming the issue that removes it. Empty: keep it that way.
const TEMPORARY_ALLOWED: &[(&str, &str, &str)] = &[];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, members)| members.contains(&module))
}

/// One import of a top-level module found in a file.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    file: String,
    line: usize,
    to: String,
}

/// Replaces comments, string literals and character literals with spaces (keeping newlines),
/// so what remains is code.
fn blank_non_code(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.extend([' ', ' ']);
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.extend([' ', ' ']);
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && matches!(next, Some('"' | '#'))
            && !out.last().is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // Raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.extend(chars[i..j.min(chars.len())].iter().map(|&c| blank(c)));
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(chars.len());
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'); otherwise a lifetime, kept as is.
            let end = if next == Some('\\') {
                (i + 2..chars.len())
                    .find(|&j| chars[j] == '\'')
                    .map(|j| j + 1)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.extend(chars[i..end].iter().map(|&c| blank(c)));
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out.into_iter().collect()
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifier starting at `at` (empty if none).
fn ident_at(code: &[char], at: usize) -> String {
    code[at..].iter().take_while(|c| is_ident(**c)).collect()
}

fn skip_space(code: &[char], mut at: usize) -> usize {
    while at < code.len() && code[at].is_whitespace() {
        at += 1;
    }
    at
}

/// The first path segment of every item of a `{…}` group starting at `open` (the `{`).
fn group_heads(code: &[char], open: usize) -> Vec<(usize, String)> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_item = true;
    let mut at = open;
    while at < code.len() {
        match code[at] {
            '{' => {
                depth += 1;
                expect_item = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expect_item = true,
            c if depth == 1 && expect_item && !c.is_whitespace() => {
                let name = ident_at(code, at);
                if !name.is_empty() {
                    heads.push((at, name));
                }
                expect_item = false;
            }
            _ => {}
        }
        at += 1;
    }
    heads
}

/// Every top-level module named by a `crate::` path (or a `super::` chain climbing to the crate
/// root) in `source`, a file whose module path inside the crate is `depth` segments deep.
fn imported_modules(source: &str, depth: usize) -> Vec<(usize, String)> {
    let code: Vec<char> = blank_non_code(source).chars().collect();
    let line_of = |at: usize| code[..at].iter().filter(|c| **c == '\n').count() + 1;
    let mut found = Vec::new();
    // Inline `mod name {` blocks add to the depth of `super::`.
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    let mut at = 0;
    while at < code.len() {
        let c = code[at];
        if c == '{' {
            braces += 1;
        } else if c == '}' {
            braces = braces.saturating_sub(1);
            inline_mods.retain(|&opened| opened <= braces);
        }
        let word_start = at == 0 || !is_ident(code[at - 1]);
        if !word_start || !is_ident(c) {
            at += 1;
            continue;
        }
        let word = ident_at(&code, at);
        let after = at + word.len();
        if word == "mod" {
            let name_at = skip_space(&code, after);
            let name = ident_at(&code, name_at);
            let brace = skip_space(&code, name_at + name.len());
            if !name.is_empty() && code.get(brace) == Some(&'{') {
                inline_mods.push(braces + 1);
            }
        }
        let climbs = if word == "crate" {
            Some(after)
        } else if word == "super" {
            // Count the chain `super::super::…`; it reaches the crate root when it is as long as
            // the file's module depth plus the inline modules around it.
            let mut steps = 1;
            let mut end = after;
            while code[end..].starts_with(&[':', ':', 's', 'u', 'p', 'e', 'r'])
                && !code.get(end + 7).is_some_and(|c| is_ident(*c))
            {
                steps += 1;
                end += 7;
            }
            (steps >= depth + inline_mods.len()).then_some(end)
        } else {
            None
        };
        if let Some(end) = climbs
            && code[end..].starts_with(&[':', ':'])
        {
            let next = skip_space(&code, end + 2);
            if code.get(next) == Some(&'{') {
                for (head_at, head) in group_heads(&code, next) {
                    found.push((line_of(head_at), head));
                }
            } else {
                let head = ident_at(&code, next);
                if !head.is_empty() {
                    found.push((line_of(next), head));
                }
            }
        }
        at = climbs.unwrap_or(after);
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a library file belongs to and its module depth, or `None` for the
/// crate root and the binaries.
fn module_of(relative: &Path) -> Option<(String, usize)> {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let first = parts.first()?;
    if matches!(first.as_str(), "lib.rs" | "main.rs" | "bin") {
        return None;
    }
    let top = first.trim_end_matches(".rs").to_string();
    let last = parts.last()?;
    let depth = parts.len() - usize::from(last == "mod.rs");
    Some((top, depth))
}

/// Every edge in the crate whose sources are `src` (named `label` in messages) that breaks the
/// layer table.
fn forbidden_edges(src: &Path, label: &str) -> (Vec<Edge>, BTreeSet<String>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut forbidden = Vec::new();
    let mut unknown = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let Some((from, depth)) = module_of(relative) else {
            continue;
        };
        let source = std::fs::read_to_string(&file).expect("read source");
        let name = format!("{label}/{}", relative.display());
        let Some(from_layer) = layer_of(&from) else {
            unknown.insert(format!("{name}: module `{from}` has no layer"));
            continue;
        };
        for (line, to) in imported_modules(&source, depth) {
            if to == from || to == "self" || to == "super" {
                continue;
            }
            let allowed = match layer_of(&to) {
                Some(to_layer) => to_layer < from_layer,
                None => {
                    unknown.insert(format!("{name}:{line}: module `{to}` has no layer"));
                    continue;
                }
            };
            let excused = TEMPORARY_ALLOWED
                .iter()
                .any(|(f, t, _)| *f == from && *t == to);
            if !allowed && !excused {
                forbidden.push(Edge {
                    file: name.clone(),
                    line,
                    to,
                });
            }
        }
    }
    (forbidden, unknown)
}

#[test]
fn no_module_imports_a_layer_above_or_beside_it() {
    // The service and its core crate, whose modules it re-exports under the same names (the
    // storage backends are crates that depend on the core only, so cannot reach above it).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut forbidden = Vec::new();
    let mut unknown = BTreeSet::new();
    for label in ["src", "crates/core/src"] {
        assert!(root.join(label).is_dir(), "{label} is missing");
        let (f, u) = forbidden_edges(&root.join(label), label);
        forbidden.extend(f);
        unknown.extend(u);
    }
    assert!(
        unknown.is_empty(),
        "every module needs a place in LAYERS (tests/layers.rs and docs/ARCHITECTURE.md):\n{}",
        unknown.into_iter().collect::<Vec<_>>().join("\n")
    );
    let described: Vec<String> = forbidden
        .iter()
        .map(|e| format!("{}:{}: imports `crate::{}`", e.file, e.line, e.to))
        .collect();
    assert!(
        described.is_empty(),
        "imports against the layer rule (docs/ARCHITECTURE.md, *Layers*):\n{}",
        described.join("\n")
    );
}

#[test]
fn temporary_exceptions_name_their_issue() {
    for (from, to, why) in TEMPORARY_ALLOWED {
        assert!(
            why.contains("issue "),
            "exception {from} -> {to} must name the issue that removes it"
        );
    }
}

#[test]
fn scanner_finds_every_form_of_path() {
    let source = r#"
use crate::store::Store;
use crate::{api::X, model::{A, B}, timestamp};
// use crate::commented::Out;
/// [`crate::doclink`]
fn f() {
    let s = "crate::in_string";
    let c = '{';
    crate::inline::call();
    tracing::warn!(error = %crate::macro_arg::f(&e), "x {}", 1);
}
mod tests {
    use super::super::climbed;
    use super::sibling;
}
"#;
    let heads: Vec<String> = imported_modules(source, 1)
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(
        heads,
        [
            "store",
            "api",
            "model",
            "timestamp",
            "inline",
            "macro_arg",
            "climbed"
        ]
    );
    // At depth 2 without an inline module, `super::super` already reaches the crate root.
    let heads: Vec<String> = imported_modules("use super::super::x;", 2)
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(heads, ["x"]);
    assert!(imported_modules("use super::x;", 2).is_empty());
}

#[test]
fn module_paths_map_to_their_top_module() {
    assert_eq!(
        module_of(Path::new("api/jobs.rs")),
        Some(("api".to_string(), 2))
    );
    assert_eq!(
        module_of(Path::new("store/sqlite/mod.rs")),
        Some(("store".to_string(), 2))
    );
    assert_eq!(
        module_of(Path::new("model.rs")),
        Some(("model".to_string(), 1))
    );
    assert_eq!(module_of(Path::new("main.rs")), None);
    assert_eq!(module_of(Path::new("bin/x.rs")), None);
}

/// Longest source file, in lines: past it a file holds more than one responsibility, and is
/// split into submodules by responsibility (public paths kept with `pub use`).
const MAX_FILE_LINES: usize = 600;

/// Longest function, in lines from its `fn` line to its closing brace: past it a function
/// does several steps, and each becomes a named function.
const MAX_FN_LINES: usize = 80;

/// Files allowed past [`MAX_FILE_LINES`], each with the reason.
const LONG_FILES: &[(&str, &str)] = &[
    (
        "crates/core/src/schedule/cron.rs",
        "pure trigger math: one parser and matcher whose DST rules and case tables read as a unit",
    ),
    (
        "crates/core/src/schedule/trigger.rs",
        "pure trigger math: the three triggers' next-fire rules and their case tables read as a unit",
    ),
];

/// The source directories the size rule covers, relative to the workspace root: the service,
/// each crate of the workspace, and the benchmark harness.
fn sized_source_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("src"), PathBuf::from("bench/src")];
    let crates = std::fs::read_dir(root.join("crates")).expect("read crates/");
    for entry in crates {
        let dir = entry.expect("directory entry").path().join("src");
        if dir.is_dir() {
            dirs.push(
                dir.strip_prefix(root)
                    .expect("under the root")
                    .to_path_buf(),
            );
        }
    }
    dirs.sort();
    dirs
}

/// Every function with a body in `source`: its name, the line of its `fn` and its length in
/// lines, from the `fn` line to the line of its closing brace. Braces in comments, strings and
/// character literals are not counted (see [`blank_non_code`]); a declaration without a body
/// (`fn f();` in a trait) and a pointer type (`fn(u32)`) are not functions here.
fn function_lengths(source: &str) -> Vec<(String, usize, usize)> {
    let code: Vec<char> = blank_non_code(source).chars().collect();
    let line_of = |at: usize| code[..at].iter().filter(|c| **c == '\n').count() + 1;
    let mut found = Vec::new();
    let mut at = 0;
    while at < code.len() {
        let word_start = at == 0 || !is_ident(code[at - 1]);
        if !word_start || !code[at..].starts_with(&['f', 'n']) {
            at += 1;
            continue;
        }
        let after = at + 2;
        let name_at = skip_space(&code, after);
        let name = ident_at(&code, name_at);
        if code.get(after).is_some_and(|c| is_ident(*c)) || name_at == after || name.is_empty() {
            at = after;
            continue;
        }
        let Some(open) = (name_at..code.len()).find(|&i| matches!(code[i], '{' | ';')) else {
            break;
        };
        if code[open] == ';' {
            at = open + 1;
            continue;
        }
        let mut depth = 0usize;
        let mut close = open;
        while close < code.len() {
            match code[close] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            close += 1;
        }
        let first = line_of(at);
        found.push((name, first, line_of(close.min(code.len() - 1)) - first + 1));
        // Go on inside the body: a function nested in it is measured on its own too.
        at = open + 1;
    }
    found
}

#[test]
fn no_file_over_600_lines_and_no_function_over_80() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut too_long = Vec::new();
    for dir in sized_source_dirs(root) {
        let mut files = Vec::new();
        rust_files(&root.join(&dir), &mut files);
        files.sort();
        for file in files {
            let name = file
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            let source = std::fs::read_to_string(&file).expect("read source");
            let lines = source.lines().count();
            let excused = LONG_FILES.iter().any(|(long, _)| *long == name);
            if lines > MAX_FILE_LINES && !excused {
                too_long.push(format!(
                    "{name}: {lines} lines (at most {MAX_FILE_LINES}): split it by responsibility"
                ));
            }
            for (function, line, length) in function_lengths(&source) {
                if length > MAX_FN_LINES {
                    too_long.push(format!(
                        "{name}:{line}: fn {function} is {length} lines (at most {MAX_FN_LINES}): split it into named steps"
                    ));
                }
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "too long (tests/layers.rs, MAX_FILE_LINES and MAX_FN_LINES):\n{}",
        too_long.join("\n")
    );
    for (long, why) in LONG_FILES {
        assert!(root.join(long).is_file(), "{long} is excused but gone");
        assert!(!why.is_empty(), "{long} is excused without a reason");
    }
}

#[test]
fn function_lengths_count_from_fn_to_its_closing_brace() {
    let source = r#"
fn short() {
    let s = "} not a brace {";
    let c = '}';
    // }
}
trait T {
    fn declared(&self);
}
fn outer(f: fn(u32) -> u32) -> u32 {
    fn inner() {
    }
    f(1)
}
"#;
    assert_eq!(
        function_lengths(source),
        [
            ("short".to_string(), 2, 5),
            ("outer".to_string(), 10, 5),
            ("inner".to_string(), 11, 2),
        ]
    );
}
