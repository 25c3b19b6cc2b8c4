//! The documentation is self-contained: every relative link in README.md
//! and docs/*.md names a file of the repository (and a heading of it, for
//! `#anchor` links), and no page or doc comment cites a `.md` file that
//! users do not have.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn pages() -> Vec<PathBuf> {
    let mut out = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

/// The lines of a page outside fenced code blocks, with inline code removed.
fn prose(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop `code spans`: a link inside one is an example, not a link.
        let mut kept = String::new();
        for (n, part) in line.split('`').enumerate() {
            if n % 2 == 0 {
                kept.push_str(part);
            }
        }
        out.push((i + 1, kept));
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to
/// hyphens, `-1`, `-2` … for repeats.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line
            .trim_start_matches('#')
            .trim()
            .trim_end_matches('#')
            .trim();
        // [text](url) counts as its text.
        let mut plain = String::new();
        let mut rest = title;
        while let Some(open) = rest.find('[') {
            plain.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match (after.find("]("), after.find(')')) {
                (Some(close), Some(end)) if close < end => {
                    plain.push_str(&after[..close]);
                    rest = &after[end + 1..];
                }
                _ => {
                    plain.push('[');
                    rest = after;
                }
            }
        }
        plain.push_str(rest);
        let slug: String = plain
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        out.push(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    out
}

/// `(line, target)` of every `[text](target)` in the prose of a page.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose(text) {
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].trim().trim_matches(['<', '>']);
            // A title after the URL: [x](file.md "title").
            let target = target.split_whitespace().next().unwrap_or_default();
            out.push((n, target.to_string()));
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_resolves_to_a_file_and_a_heading() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let path = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !path.exists() {
                broken.push(format!(
                    "{name}:{line}: {target}: no file {}",
                    path.display()
                ));
                continue;
            }
            if let Some(a) = anchor {
                let heads = std::fs::read_to_string(&path)
                    .map(|t| anchors(&t))
                    .unwrap_or_default();
                if !heads.iter().any(|h| h == a) {
                    broken.push(format!("{name}:{line}: {target}: no heading #{a}"));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the parser broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Every `NAME.md` mentioned in the docs, the README or a doc comment
/// exists, relative to the repository root, to the file, or to docs/.
#[test]
fn no_page_or_doc_comment_cites_a_file_users_do_not_have() {
    let mut files = pages();
    let mut stack = vec![root().join("backend/src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    }
    let mut missing = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let is_rust = f.extension().is_some_and(|e| e == "rs");
        for (n, line) in text.lines().enumerate() {
            if is_rust && !line.trim_start().starts_with("//") {
                continue;
            }
            for word in line.split(|c: char| !(c.is_alphanumeric() || "_./-".contains(c))) {
                let word = word.trim_end_matches('.');
                if !word.ends_with(".md") || word.contains("://") {
                    continue;
                }
                let word = word.trim_start_matches("./");
                let here = f.parent().unwrap().join(word);
                if ![root().join(word), here, root().join("docs").join(word)]
                    .iter()
                    .any(|p| p.exists())
                {
                    let name = f.strip_prefix(root()).unwrap().display().to_string();
                    missing.push(format!("{name}:{}: {word}", n + 1));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "cited but not in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn anchors_follow_github() {
    let a = anchors("# Top\n## `GET /api/session`\n```\n# not a heading\n```\n## 5. Troubleshooting\n## Top\n## TLS in front\n");
    assert_eq!(
        a,
        [
            "top",
            "get-apisession",
            "5-troubleshooting",
            "top-1",
            "tls-in-front"
        ]
    );
}
