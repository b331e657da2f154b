//! The layering of the crate, checked: each top-level module may import only modules of a
//! lower rank (`crate::<module>` paths, `use` or inline), so imports point one way and no two
//! modules import each other. `docs/architecture.md` explains the layers; a new module gets
//! its rank here.

use std::collections::BTreeSet;
use std::path::Path;

/// Top-level modules from the bottom up. `http` is split: its plumbing (`paths`, `error`,
/// `base_url`, ...) sits below the families, `http::router` above them.
const RANKS: &[&[&str]] = &[
    &["clock"],
    &["crypto"],
    &["config"],
    &["representation"],
    &["store"],
    &["model"],
    &["policy", "authz"],
    &["mappers"],
    &["realm"],
    &["users"],
    &["email"],
    &["http"],
    &["tokens"],
    &["sessions"],
    &["events"],
    &["broker"],
    &["action_token::token"],
    &["authn", "login"],
    &["oidc"],
    &["action_token"],
    &["account"],
    &["admin"],
    &["client_registration"],
    &["health", "metrics", "telemetry", "testing"],
    &["http::router"],
    &["server", "lib", "main", "layers", "fuzzing"],
];

/// `crate::AppState` (defined in `lib.rs`) is what handlers receive: usable from `http` up.
const APP_STATE_FROM: &str = "http";

fn rank(module: &str) -> Option<usize> {
    RANKS.iter().position(|r| r.contains(&module))
}

/// The module a source file belongs to (`oidc/token/mod.rs` -> `oidc`; `http/router.rs` ->
/// `http::router`).
fn module_of(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [a, b, ..] if a == "http" && b == "router" => "http::router".into(),
        // The tokens themselves (no I/O) sit below the logins that mint and check them; the
        // action-token endpoint, which resumes logins, above the protocol.
        [a, b, ..] if a == "action_token" && b == "token" => "action_token::token".into(),
        [a, ..] => a.clone(),
        [] => String::new(),
    }
}

/// The modules a file refers to through `crate::` (comments skipped).
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            // `crate::{a, b::c}` lists several.
            let names: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                group[..end]
                    .split(',')
                    .map(|s| s.trim().split("::").next().unwrap_or("").to_string())
                    .collect()
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let first = rest[..end].to_string();
                if first == "http" && rest[end..].starts_with("::router") {
                    vec!["http::router".into()]
                } else if first == "action_token" && rest[end..].starts_with("::token") {
                    vec!["action_token::token".into()]
                } else {
                    vec![first]
                }
            };
            out.extend(names.into_iter().filter(|n| !n.is_empty()));
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every violation of the layering in the source tree at `src`.
fn violations(src: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut all = Vec::new();
    files(src, &mut all);
    for path in all {
        let rel = path.strip_prefix(src).unwrap_or(&path);
        let from = module_of(rel);
        let Some(from_rank) = rank(&from) else {
            found.push(format!("{}: module '{from}' has no rank", rel.display()));
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for to in imports(&text) {
            let ok = if to == "AppState" {
                rank(APP_STATE_FROM).is_some_and(|r| from_rank >= r)
            } else if to == from
                || (from == "http::router" && to == "http")
                || (from == "action_token" && to == "action_token::token")
            {
                true
            } else {
                match rank(&to) {
                    Some(r) => r < from_rank,
                    // Items of lib.rs other than modules (`crate::app`): the top.
                    None => from_rank == RANKS.len() - 1,
                }
            };
            if !ok {
                found.push(format!("{}: {from} imports {to}", rel.display()));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn lower_layers_never_import_upper_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "layering violations:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    let dir = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    let _ = std::fs::create_dir_all(dir.join("store"));
    let _ = std::fs::write(
        dir.join("store/x.rs"),
        "use crate::oidc::error::OAuthError;\n",
    );
    let _ = std::fs::write(
        dir.join("realm.rs"),
        "// crate::admin in a comment\nuse crate::{store, oidc::x};\n",
    );
    let found = violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        found,
        [
            "realm.rs: realm imports oidc",
            "store/x.rs: store imports oidc"
        ]
    );
}
