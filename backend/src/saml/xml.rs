//! A small, namespace-aware, read-only XML tree built with quick-xml.
//!
//! It is the broker's own view of SAML documents, used twice: on the raw
//! response *before* libxml2/xmlsec ever see the bytes (so DOCTYPE, entities
//! and processing instructions are refused up front, and Reference URIs and
//! algorithms can be inspected), and on the signed pre-digest XML that xmlsec
//! returns (the only place identity and roles are read from).

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// Deepest nesting accepted; SAML responses are a dozen levels deep.
const MAX_DEPTH: usize = 64;
/// Most elements accepted in one document.
const MAX_ELEMENTS: usize = 20_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the document contains a DOCTYPE declaration")]
    Doctype,
    #[error("the document contains a processing instruction")]
    ProcessingInstruction,
    #[error("the document references an entity other than the five predefined ones: {0}")]
    Entity(String),
    #[error("the document is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the document uses an undeclared namespace prefix")]
    UnknownPrefix,
    #[error("the document is nested too deeply or has too many elements")]
    TooLarge,
    #[error("the document has no root element")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub ns: Option<String>,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
    /// True when a comment appeared directly inside this element.
    pub had_comment: bool,
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.name == name
    }

    /// An attribute without a namespace (SAML's own attributes are unqualified).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, name))
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, name))
    }

    /// Concatenated text of the direct text children.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| match c {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// Every descendant element (depth first, self included) matching the name.
    pub fn descendants<'a>(&'a self, ns: &'a str, name: &'a str, out: &mut Vec<&'a Element>) {
        if self.is(ns, name) {
            out.push(self);
        }
        for e in self.elements() {
            e.descendants(ns, name, out);
        }
    }
}

fn resolve(r: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match r {
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Bound(ns) => Ok(Some(String::from_utf8_lossy(ns.as_ref()).into_owned())),
        ResolveResult::Unknown(_) => Err(XmlError::UnknownPrefix),
    }
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

/// Parse a document, refusing DOCTYPE, processing instructions (other than
/// the XML declaration) and any entity that is not predefined.
pub fn parse(input: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(input);
    reader.config_mut().expand_empty_elements = false;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = resolve(ns);
        match event {
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::PI(_) => return Err(XmlError::ProcessingInstruction),
            Event::Decl(_) => {}
            Event::Start(start) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(XmlError::TooLarge);
                }
                let el = element_from(&reader, ns?, &start)?;
                stack.push(el);
            }
            Event::Empty(start) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(XmlError::TooLarge);
                }
                let el = element_from(&reader, ns?, &start)?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                let text = t.decode().map_err(malformed)?;
                push_text(&mut stack, &text);
            }
            Event::CData(t) => {
                let text = t.decode().map_err(malformed)?;
                push_text(&mut stack, &text);
            }
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
                    push_text(&mut stack, &c.to_string());
                } else {
                    let name = r.decode().map_err(malformed)?;
                    match predefined_entity(&name) {
                        Some(v) => push_text(&mut stack, v),
                        None => return Err(XmlError::Entity(name.into_owned())),
                    }
                }
            }
            Event::Comment(_) => {
                if let Some(top) = stack.last_mut() {
                    top.had_comment = true;
                }
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("unclosed element"));
    }
    root.ok_or(XmlError::Empty)
}

fn push_text(stack: &mut [Element], text: &str) {
    if let Some(top) = stack.last_mut() {
        if let Some(Node::Text(prev)) = top.children.last_mut() {
            prev.push_str(text);
        } else {
            top.children.push(Node::Text(text.to_string()));
        }
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(Node::Element(el));
            Ok(())
        }
        None if root.is_none() => {
            *root = Some(el);
            Ok(())
        }
        None => Err(malformed("more than one root element")),
    }
}

fn element_from(
    reader: &NsReader<&[u8]>,
    ns: Option<String>,
    start: &quick_xml::events::BytesStart<'_>,
) -> Result<Element, XmlError> {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(malformed)?;
        let key = a.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let (ans, local) = reader.resolver().resolve_attribute(key);
        let ans = resolve(ans)?;
        let value = a
            .normalized_value_with(quick_xml::XmlVersion::Implicit1_0, 1, |e| {
                predefined_entity(e)
            })
            .map_err(|e| match e {
                quick_xml::Error::Escape(esc) => XmlError::Entity(esc.to_string()),
                other => malformed(other),
            })?;
        attrs.push(Attr {
            ns: ans,
            name: String::from_utf8_lossy(local.as_ref()).into_owned(),
            value: value.into_owned(),
        });
    }
    Ok(Element {
        ns,
        name,
        attrs,
        children: Vec::new(),
        had_comment: false,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn doctype_is_refused() {
        let doc = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>"#;
        assert_eq!(parse(doc), Err(XmlError::Doctype));
    }

    #[test]
    fn processing_instruction_is_refused() {
        assert_eq!(
            parse(r#"<x><?evil stuff?></x>"#),
            Err(XmlError::ProcessingInstruction)
        );
    }

    #[test]
    fn undeclared_entity_is_refused() {
        assert!(matches!(parse("<x>&ext;</x>"), Err(XmlError::Entity(_))));
    }

    #[test]
    fn predefined_entities_and_char_refs_resolve() {
        let el = parse(r#"<x a="&lt;&#65;">&amp;&#x42;c</x>"#).unwrap();
        assert_eq!(el.text(), "&Bc");
        assert_eq!(el.attr("a"), Some("<A"));
    }

    #[test]
    fn namespaces_resolve() {
        let el = parse(r#"<p:R xmlns:p="urn:x"><q xmlns="urn:y"/></p:R>"#).unwrap();
        assert!(el.is("urn:x", "R"));
        assert!(el.child("urn:y", "q").is_some());
    }

    #[test]
    fn comments_are_noted_and_do_not_split_identity() {
        let el = parse(r#"<n>admin@corp<!-- x -->.evil</n>"#).unwrap();
        assert!(el.had_comment);
        assert_eq!(el.text(), "admin@corp.evil");
    }
}
