//! The module rules of docs/architecture.md, checked on the source: every
//! `crate::<module>` path in a module's files must name a module that the
//! table allows it to import. A new cross-module import either fits the
//! design or changes this table and the document together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// module -> the modules it may import (the same table as docs/architecture.md).
const RULES: &[(&str, &[&str])] = &[
    ("ids", &[]),
    ("clock", &[]),
    ("logging", &[]),
    ("text", &[]),
    ("config", &[]),
    ("awssdk", &["config"]),
    ("saml", &["ids"]),
    ("policy", &["saml"]),
    ("exchange", &["awssdk", "config", "saml"]),
    ("metrics", &[]),
    // The persistence seam: audit defines the AuditLog trait, store
    // implements it for each backend; no cycle.
    ("store", &["audit", "awssdk", "config"]),
    ("audit", &["text"]),
    (
        "login",
        &[
            "audit", "clock", "config", "exchange", "ids", "metrics", "policy", "saml", "store",
        ],
    ),
    (
        "web",
        &[
            "audit", "clock", "config", "exchange", "login", "metrics", "policy", "saml", "store",
            "text",
        ],
    ),
    ("lambda", &["web"]),
    (
        "startup",
        &[
            "audit", "awssdk", "clock", "config", "exchange", "policy", "saml", "store", "web",
        ],
    ),
    ("devidp", &["ids", "saml"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::name` in the text.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
        rest = after;
    }
    found
}

#[test]
fn modules_import_only_what_the_architecture_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rules: BTreeMap<&str, &[&str]> = RULES.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut seen_modules = BTreeSet::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        seen_modules.insert(module.clone());
        let allowed = rules
            .get(module.as_str())
            .unwrap_or_else(|| panic!("module {module} is not in docs/architecture.md's table"));
        let text = std::fs::read_to_string(&file).expect("read");
        for used in crate_paths(&text) {
            if used != module && !allowed.contains(&used.as_str()) {
                violations.push(format!("{}: {module} imports {used}", rel.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "forbidden imports:\n{}",
        violations.join("\n")
    );
    let listed: BTreeSet<String> = rules.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        seen_modules, listed,
        "the table and src/ list different modules"
    );
}

#[test]
fn the_rule_check_notices_a_forbidden_import() {
    // The scanner itself: a `crate::` path is found wherever it is written.
    let text = "use crate::devidp::x;\nfn f() { crate::web::y(); }";
    let found = crate_paths(text);
    assert!(found.contains("devidp") && found.contains("web"));
}

#[test]
fn the_architecture_document_lists_the_same_table() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/architecture.md"),
    )
    .expect("docs/architecture.md");
    for (module, allowed) in RULES {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{module}` |")))
            .unwrap_or_else(|| panic!("docs/architecture.md has no row for `{module}`"));
        for a in *allowed {
            assert!(
                row.contains(&format!("`{a}`")),
                "row for `{module}` does not list `{a}`: {row}"
            );
        }
        let listed = row.matches('`').count() / 2 - 1;
        assert_eq!(
            listed,
            allowed.len(),
            "row for `{module}` lists other modules: {row}"
        );
    }
}
