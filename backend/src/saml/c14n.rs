//! Exclusive XML Canonicalization 1.0, without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>), over the tree of [`super::xml`].
//!
//! Only the node sets the SAML signature profile produces are supported: one
//! element's subtree (the apex), optionally minus one descendant subtree (the
//! enveloped `ds:Signature`). That is all XML-DSig needs here, and it keeps
//! the algorithm a single recursive walk whose cost is linear in the output.
//!
//! The output is differentially tested against libxml2 (python lxml) in
//! `tests/it/c14n.rs`.

use super::xml::{Element, Node};

/// Canonicalize `apex`, a descendant of (or equal to) `root`, leaving out the
/// subtree `exclude` (compared by address). `inclusive` is the
/// InclusiveNamespaces PrefixList; `#default` names the default namespace.
/// Returns None when `apex` is not inside `root`.
pub fn exclusive(
    root: &Element,
    apex: &Element,
    exclude: Option<&Element>,
    inclusive: &[String],
) -> Option<Vec<u8>> {
    let mut scope: Vec<(&str, &str)> = Vec::new();
    if !in_scope_at(root, apex, &mut scope) {
        return None;
    }
    let inclusive: Vec<&str> = inclusive
        .iter()
        .map(|p| if p == "#default" { "" } else { p.as_str() })
        .collect();
    let mut out = Vec::with_capacity(4096);
    let mut c = Canon {
        out: &mut out,
        exclude,
        inclusive: &inclusive,
        rendered: Vec::new(),
        scope,
    };
    c.element(apex);
    Some(out)
}

/// Collect the namespace declarations in scope *above* `target` (the
/// declarations on `target` itself are pushed when it is rendered).
fn in_scope_at<'a>(el: &'a Element, target: &Element, scope: &mut Vec<(&'a str, &'a str)>) -> bool {
    if std::ptr::eq(el, target) {
        return true;
    }
    let mark = scope.len();
    for (p, u) in &el.ns_decls {
        scope.push((p.as_str(), &**u));
    }
    for child in el.elements() {
        if in_scope_at(child, target, scope) {
            return true;
        }
    }
    scope.truncate(mark);
    false
}

struct Canon<'a> {
    out: &'a mut Vec<u8>,
    exclude: Option<&'a Element>,
    inclusive: &'a [&'a str],
    /// Namespace declarations rendered by output ancestors, innermost last.
    rendered: Vec<(&'a str, &'a str)>,
    /// Namespace declarations in scope, innermost last.
    scope: Vec<(&'a str, &'a str)>,
}

fn lookup<'a>(list: &[(&'a str, &'a str)], prefix: &str) -> Option<&'a str> {
    list.iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|(_, u)| *u)
}

impl<'a> Canon<'a> {
    fn element(&mut self, el: &'a Element) {
        let scope_mark = self.scope.len();
        let rendered_mark = self.rendered.len();
        for (p, u) in &el.ns_decls {
            self.scope.push((p.as_str(), &**u));
        }

        // Prefixes this element needs declared: visibly utilized ones, plus
        // the InclusiveNamespaces PrefixList handled as in inclusive C14N.
        let mut wanted: Vec<&str> = Vec::with_capacity(4);
        wanted.push(el.prefix.as_deref().unwrap_or(""));
        for a in &el.attrs {
            if let Some(p) = a.prefix.as_deref() {
                if p != "xml" && !wanted.contains(&p) {
                    wanted.push(p);
                }
            }
        }
        for p in self.inclusive {
            if !wanted.contains(p) && (p.is_empty() || lookup(&self.scope, p).is_some()) {
                wanted.push(p);
            }
        }
        let mut decls: Vec<(&'a str, &'a str)> = Vec::with_capacity(wanted.len());
        for p in wanted {
            if p == "xml" {
                continue;
            }
            let uri = match lookup(&self.scope, p) {
                Some(u) => u,
                None if p.is_empty() => "",
                None => continue,
            };
            if lookup(&self.rendered, p).unwrap_or("") != uri {
                decls.push((p, uri));
            }
        }
        decls.sort_unstable_by(|a, b| a.0.cmp(b.0));

        self.out.push(b'<');
        self.qname(el.prefix.as_deref(), &el.name);
        for (p, u) in &decls {
            if p.is_empty() {
                self.out.extend_from_slice(b" xmlns=\"");
            } else {
                self.out.extend_from_slice(b" xmlns:");
                self.out.extend_from_slice(p.as_bytes());
                self.out.extend_from_slice(b"=\"");
            }
            escape_attr(self.out, u);
            self.out.push(b'"');
            self.rendered.push((p, u));
        }
        let mut attrs: Vec<&super::xml::Attr> = el.attrs.iter().collect();
        attrs.sort_unstable_by(|a, b| {
            (a.ns.as_deref().unwrap_or(""), a.name.as_str())
                .cmp(&(b.ns.as_deref().unwrap_or(""), b.name.as_str()))
        });
        for a in attrs {
            self.out.push(b' ');
            self.qname(a.prefix.as_deref(), &a.name);
            self.out.extend_from_slice(b"=\"");
            escape_attr(self.out, &a.value);
            self.out.push(b'"');
        }
        self.out.push(b'>');
        for child in &el.children {
            match child {
                Node::Text(t) => escape_text(self.out, t),
                Node::Element(e) => {
                    if self.exclude.is_some_and(|x| std::ptr::eq(x, e)) {
                        continue;
                    }
                    self.element(e);
                }
            }
        }
        self.out.extend_from_slice(b"</");
        self.qname(el.prefix.as_deref(), &el.name);
        self.out.push(b'>');
        self.scope.truncate(scope_mark);
        self.rendered.truncate(rendered_mark);
    }

    fn qname(&mut self, prefix: Option<&str>, local: &str) {
        if let Some(p) = prefix {
            self.out.extend_from_slice(p.as_bytes());
            self.out.push(b':');
        }
        self.out.extend_from_slice(local.as_bytes());
    }
}

/// Text nodes: `&`, `<`, `>` and CR are escaped (C14N 1.0 §2.3).
fn escape_text(out: &mut Vec<u8>, s: &str) {
    escape(out, s, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    })
}

/// Attribute values: `&`, `<`, `"`, TAB, LF and CR are escaped.
fn escape_attr(out: &mut Vec<u8>, s: &str) {
    escape(out, s, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    })
}

fn escape(out: &mut Vec<u8>, s: &str, rep: impl Fn(u8) -> Option<&'static [u8]>) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        if let Some(r) = rep(b) {
            out.extend_from_slice(&s.as_bytes()[last..i]);
            out.extend_from_slice(r);
            last = i + 1;
        }
    }
    out.extend_from_slice(&s.as_bytes()[last..]);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::saml::xml::parse;

    fn c14n(doc: &str) -> String {
        let root = parse(doc).unwrap();
        String::from_utf8(exclusive(&root, &root, None, &[]).unwrap()).unwrap()
    }

    fn c14n_child(doc: &str, path: &[usize], prefixes: &[&str]) -> String {
        let root = parse(doc).unwrap();
        let mut el = &root;
        for &i in path {
            el = el.elements().nth(i).unwrap();
        }
        let p: Vec<String> = prefixes.iter().map(|s| s.to_string()).collect();
        String::from_utf8(exclusive(&root, el, None, &p).unwrap()).unwrap()
    }

    #[test]
    fn attributes_sort_and_namespaces_render_where_used() {
        assert_eq!(
            c14n(r#"<a:r xmlns:b="urn:b" xmlns:a="urn:a" z="1" b:y="2" a="3"><c/></a:r>"#),
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" a="3" z="1" b:y="2"><c></c></a:r>"#
        );
    }

    #[test]
    fn unused_namespaces_are_dropped_and_inherited_ones_rendered_at_the_apex() {
        let doc = r#"<p:R xmlns:p="urn:p" xmlns:s="urn:s" xmlns:unused="urn:u"><s:A ID="1"><s:B>x</s:B></s:A></p:R>"#;
        assert_eq!(
            c14n_child(doc, &[0], &[]),
            r#"<s:A xmlns:s="urn:s" ID="1"><s:B>x</s:B></s:A>"#
        );
        assert_eq!(
            c14n_child(doc, &[0], &["unused"]),
            r#"<s:A xmlns:s="urn:s" xmlns:unused="urn:u" ID="1"><s:B>x</s:B></s:A>"#
        );
    }

    #[test]
    fn default_namespace_undeclaration() {
        assert_eq!(
            c14n(r#"<r xmlns="urn:d"><x xmlns=""><y/></x></r>"#),
            r#"<r xmlns="urn:d"><x xmlns=""><y></y></x></r>"#
        );
        assert_eq!(c14n(r#"<r><x xmlns=""/></r>"#), r#"<r><x></x></r>"#);
    }

    #[test]
    fn text_and_attribute_escaping() {
        assert_eq!(
            c14n("<r a=\"&lt;&amp;&quot;&#9;&#10;&#13;>\">&lt;&amp;&gt;&#13;\"'</r>"),
            "<r a=\"&lt;&amp;&quot;&#x9;&#xA;&#xD;>\">&lt;&amp;&gt;&#xD;\"'</r>"
        );
    }

    #[test]
    fn comments_are_dropped_and_cdata_becomes_text() {
        assert_eq!(c14n("<r><!--c-->a<![CDATA[<b>]]></r>"), "<r>a&lt;b&gt;</r>");
    }

    #[test]
    fn xml_attributes_are_not_inherited() {
        assert_eq!(
            c14n_child(r#"<r xml:lang="en"><x/></r>"#, &[0], &[]),
            r#"<x></x>"#
        );
    }

    #[test]
    fn excluded_subtree_is_left_out() {
        let root = parse(r#"<r ID="1"><a/><s>sig</s><b/></r>"#).unwrap();
        let s = root.elements().nth(1).unwrap();
        let out = exclusive(&root, &root, Some(s), &[]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"<r ID="1"><a></a><b></b></r>"#
        );
    }
}
