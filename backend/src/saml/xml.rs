//! The broker's one XML parser: strict, namespace-aware, read-only.
//!
//! Every SAML document the broker reads (responses at the ACS, IdP metadata,
//! AuthnRequests at the dev IdP) is parsed exactly once, here. Structure
//! checks, signature verification (`dsig`, `c14n`) and claim extraction all
//! work on the one tree this module returns, so no two parsers can disagree
//! about what a document says.
//!
//! What it accepts is deliberately narrow:
//!
//! - UTF-8 only: an encoding declaration other than UTF-8, or a UTF-16/32
//!   byte-order mark, is refused (a UTF-8 BOM is skipped);
//! - XML 1.0, no DTD (`<!DOCTYPE` is refused), no processing instructions
//!   other than the XML declaration, no entities beyond the five predefined
//!   ones and character references;
//! - namespaces per "Namespaces in XML 1.0": every prefix bound, no prefix
//!   undeclared, namespace names absolute URIs;
//! - bounded: depth, element count, attributes per element, name, attribute
//!   and text sizes all have limits ([`Limits`]), checked while parsing, so
//!   the cost of a hostile document is linear in its size and capped.
//!
//! Line ends are normalized (XML 1.0 §2.11) and attribute values normalized
//! (§3.3.3) exactly as a conforming parser does, because canonicalization
//! depends on both.

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
pub const NS_XMLNS: &str = "http://www.w3.org/2000/xmlns/";

/// Bounds on a document's shape. Every one is checked during the parse.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_elements: usize,
    pub max_attributes: usize,
    pub max_namespace_decls: usize,
    pub max_name_len: usize,
    pub max_attr_len: usize,
    pub max_text_len: usize,
}

impl Limits {
    /// SAML protocol messages: a response is a dozen levels deep, with a few
    /// dozen elements and a handful of attributes on each.
    pub const MESSAGE: Limits = Limits {
        max_depth: 32,
        max_elements: 4_096,
        max_attributes: 32,
        max_namespace_decls: 32,
        max_name_len: 256,
        max_attr_len: 8 * 1024,
        max_text_len: 64 * 1024,
    };
    /// IdP metadata: larger (several certificates, many endpoints), still bounded.
    pub const METADATA: Limits = Limits {
        max_depth: 48,
        max_elements: 100_000,
        max_attributes: 64,
        max_namespace_decls: 64,
        max_name_len: 512,
        max_attr_len: 64 * 1024,
        max_text_len: 1024 * 1024,
    };
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the document contains a DOCTYPE declaration")]
    Doctype,
    #[error("the document contains a processing instruction")]
    ProcessingInstruction,
    #[error("the document references an entity other than the five predefined ones: {0}")]
    Entity(String),
    #[error("the document is not UTF-8: {0}")]
    Encoding(String),
    #[error("the document is not well-formed XML: {0} (at byte {1})")]
    Malformed(&'static str, usize),
    #[error("the document uses an undeclared namespace prefix {0:?}")]
    UnknownPrefix(String),
    #[error("the document has an invalid namespace declaration: {0}")]
    Namespace(String),
    #[error("the document exceeds a limit: {0}")]
    TooLarge(&'static str),
    #[error("the document has no root element")]
    Empty,
}

/// A namespace name, shared by every element and attribute in its scope.
pub type NsName = std::sync::Arc<str>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub prefix: Option<String>,
    pub ns: Option<NsName>,
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
    pub prefix: Option<String>,
    pub ns: Option<NsName>,
    pub name: String,
    /// Attributes other than namespace declarations, in document order.
    pub attrs: Vec<Attr>,
    /// Namespace declarations made on this element: (prefix, URI), with ""
    /// for the default namespace. `xmlns=""` is recorded as ("", "").
    pub ns_decls: Vec<(String, NsName)>,
    pub children: Vec<Node>,
    /// True when a comment appeared directly inside this element.
    pub had_comment: bool,
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
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

    /// True when every direct text child is XML whitespace.
    pub fn has_only_whitespace_text(&self) -> bool {
        self.children.iter().all(|c| match c {
            Node::Text(t) => t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')),
            Node::Element(_) => true,
        })
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

    /// Visit every element of the subtree, self first, with its parent.
    pub fn walk<'a>(
        &'a self,
        parent: Option<&'a Element>,
        f: &mut impl FnMut(&'a Element, Option<&'a Element>),
    ) {
        f(self, parent);
        for e in self.elements() {
            e.walk(Some(self), f);
        }
    }
}

/// Parse a SAML protocol message with [`Limits::MESSAGE`].
pub fn parse(input: &str) -> Result<Element, XmlError> {
    parse_with(input.as_bytes(), Limits::MESSAGE)
}

/// Parse bytes with the given limits.
pub fn parse_with(input: &[u8], limits: Limits) -> Result<Element, XmlError> {
    let input = match input {
        [0xEF, 0xBB, 0xBF, rest @ ..] => rest,
        [0xFE, 0xFF, ..] | [0xFF, 0xFE, ..] | [0, 0, 0xFE, 0xFF, ..] => {
            return Err(XmlError::Encoding("UTF-16/32 byte-order mark".into()))
        }
        other => other,
    };
    let text = std::str::from_utf8(input)
        .map_err(|e| XmlError::Encoding(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    // §2.11: CR LF and lone CR become LF before anything else looks at the text.
    let normalized;
    let text = if text.contains('\r') {
        normalized = text.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        text
    };
    Parser {
        s: text.as_bytes(),
        src: text,
        pos: 0,
        limits,
        elements: 0,
        scopes: Vec::new(),
    }
    .document()
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: usize,
    limits: Limits,
    elements: usize,
    /// Namespace declarations of the open elements, innermost last.
    scopes: Vec<Vec<(String, NsName)>>,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_name_start(c: char) -> bool {
    matches!(c, 'A'..='Z' | 'a'..='z' | '_' | ':'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// XML 1.0 Char production (surrogates cannot occur in a `str`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// An absolute URI: a scheme, then a colon. Namespace names must be absolute
/// (relative ones have no canonical form).
fn is_absolute_uri(v: &str) -> bool {
    let Some((scheme, _)) = v.split_once(':') else {
        return false;
    };
    let mut c = scheme.chars();
    matches!(c.next(), Some(x) if x.is_ascii_alphabetic())
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '+' | '-' | '.'))
}

struct RawAttr {
    qname: (Option<String>, String),
    value: String,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &'static str) -> XmlError {
        XmlError::Malformed(what, self.pos)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn starts(&self, lit: &str) -> bool {
        self.s
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(lit.as_bytes()))
    }

    fn expect(&mut self, lit: &str, what: &'static str) -> Result<(), XmlError> {
        if self.starts(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.src[self.pos..].chars().next()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn document(mut self) -> Result<Element, XmlError> {
        if self.starts("<?xml") && self.s.get(5).is_some_and(|&b| is_ws(b) || b == b'?') {
            self.xml_decl()?;
        }
        self.misc()?;
        if self.peek() != Some(b'<') {
            return Err(if self.pos >= self.s.len() {
                XmlError::Empty
            } else {
                self.err("text outside the root element")
            });
        }
        let root = self.element(0)?;
        self.misc()?;
        if self.pos < self.s.len() {
            return Err(if self.peek() == Some(b'<') {
                self.err("more than one root element")
            } else {
                self.err("text after the root element")
            });
        }
        Ok(root)
    }

    /// `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`, nothing else.
    fn xml_decl(&mut self) -> Result<(), XmlError> {
        self.pos += 5;
        let mut seen_version = false;
        let mut order = 0;
        loop {
            let had_ws = self.skip_ws();
            if self.starts("?>") {
                self.pos += 2;
                break;
            }
            if !had_ws {
                return Err(self.err("malformed XML declaration"));
            }
            let name = self.name_str()?;
            self.skip_ws();
            self.expect("=", "malformed XML declaration")?;
            self.skip_ws();
            let q = self
                .peek()
                .ok_or_else(|| self.err("malformed XML declaration"))?;
            if q != b'"' && q != b'\'' {
                return Err(self.err("malformed XML declaration"));
            }
            self.pos += 1;
            let start = self.pos;
            while self.peek().is_some_and(|b| b != q) {
                self.pos += 1;
            }
            let value = &self.src[start..self.pos];
            if self.peek() != Some(q) {
                return Err(self.err("unterminated value in the XML declaration"));
            }
            self.pos += 1;
            match (name.as_str(), order) {
                ("version", 0) => {
                    if value != "1.0" {
                        return Err(XmlError::Encoding(format!(
                            "XML version {value:?} (only 1.0)"
                        )));
                    }
                    seen_version = true;
                    order = 1;
                }
                ("encoding", 1) => {
                    if !value.eq_ignore_ascii_case("UTF-8") && !value.eq_ignore_ascii_case("UTF8") {
                        return Err(XmlError::Encoding(format!("encoding {value:?} declared")));
                    }
                    order = 2;
                }
                ("standalone", 1 | 2) => {
                    if value != "yes" && value != "no" {
                        return Err(self.err("malformed XML declaration"));
                    }
                    order = 3;
                }
                _ => return Err(self.err("malformed XML declaration")),
            }
        }
        if !seen_version {
            return Err(self.err("XML declaration without version"));
        }
        Ok(())
    }

    /// Whitespace and comments between the prolog, the root and the end.
    fn misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_ws();
            if self.starts("<!--") {
                self.comment()?;
            } else if self.starts("<!DOCTYPE") || self.starts("<!doctype") {
                return Err(XmlError::Doctype);
            } else if self.starts("<?") {
                return Err(XmlError::ProcessingInstruction);
            } else if self.starts("<!") {
                return Err(self.err("markup declaration outside a DTD"));
            } else {
                return Ok(());
            }
        }
    }

    fn comment(&mut self) -> Result<(), XmlError> {
        self.pos += 4;
        let rest = &self.src[self.pos..];
        let end = rest
            .find("--")
            .ok_or_else(|| self.err("unterminated comment"))?;
        if !rest[end..].starts_with("-->") {
            return Err(self.err("'--' inside a comment"));
        }
        if let Some(c) = rest[..end].chars().find(|&c| !is_xml_char(c)) {
            let _ = c;
            return Err(self.err("character not allowed in XML"));
        }
        self.pos += end + 3;
        Ok(())
    }

    fn name_str(&mut self) -> Result<String, XmlError> {
        Ok(self.name_slice()?.to_string())
    }

    fn name_slice(&mut self) -> Result<&'a str, XmlError> {
        let start = self.pos;
        // ASCII fast path; anything else goes through the full NameChar rules.
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => self.pos += 1,
            Some(b) if b >= 0x80 => match self.next_char() {
                Some(c) if is_name_start(c) => {}
                _ => {
                    self.pos = start;
                    return Err(self.err("expected a name"));
                }
            },
            _ => return Err(self.err("expected a name")),
        }
        loop {
            match self.peek() {
                Some(b) if b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.') => {
                    self.pos += 1
                }
                Some(b) if b >= 0x80 => {
                    let here = self.pos;
                    match self.next_char() {
                        Some(c) if is_name_char(c) => {}
                        _ => {
                            self.pos = here;
                            break;
                        }
                    }
                }
                _ => break,
            }
            if self.pos - start > self.limits.max_name_len {
                return Err(XmlError::TooLarge("name length"));
            }
        }
        Ok(&self.src[start..self.pos])
    }

    /// A QName: `local` or `prefix:local`, both NCNames.
    fn qname(&mut self) -> Result<(Option<String>, String), XmlError> {
        let name = self.name_slice()?;
        let mut parts = name.split(':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(l), None, None) if !l.is_empty() => Ok((None, l.to_string())),
            (Some(p), Some(l), None)
                if !p.is_empty() && !l.is_empty() && l.starts_with(is_name_start) =>
            {
                Ok((Some(p.to_string()), l.to_string()))
            }
            _ => Err(self.err("not a valid qualified name")),
        }
    }

    /// `&...;` at the current position (the `&` included); returns the replacement.
    fn reference(&mut self, out: &mut String) -> Result<(), XmlError> {
        self.pos += 1;
        let rest = &self.src[self.pos..];
        let end = rest
            .bytes()
            .take(16)
            .position(|b| b == b';')
            .ok_or_else(|| self.err("unterminated reference"))?;
        let body = &rest[..end];
        let c = if let Some(num) = body.strip_prefix('#') {
            let code = if let Some(hex) = num.strip_prefix('x') {
                (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| u32::from_str_radix(hex, 16).ok())
                    .flatten()
            } else {
                (!num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| num.parse::<u32>().ok())
                    .flatten()
            };
            match code.and_then(char::from_u32) {
                Some(c) if is_xml_char(c) => c,
                _ => return Err(self.err("character reference to a character not allowed in XML")),
            }
        } else {
            match body {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                other => return Err(XmlError::Entity(other.chars().take(32).collect())),
            }
        };
        out.push(c);
        self.pos += end + 1;
        Ok(())
    }

    /// A quoted attribute value, normalized per §3.3.3 (CDATA type).
    fn attr_value(&mut self) -> Result<String, XmlError> {
        let q = match self.peek() {
            Some(q @ (b'"' | b'\'')) => q,
            _ => return Err(self.err("attribute value not quoted")),
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            if out.len() > self.limits.max_attr_len {
                return Err(XmlError::TooLarge("attribute value length"));
            }
            // Copy a run of ordinary characters at once.
            let rest = &self.s[self.pos..];
            let run = rest
                .iter()
                .position(|&b| {
                    b == q || b == b'&' || b == b'<' || b == b'\t' || b == b'\n' || b < 0x20
                })
                .ok_or_else(|| self.err("unterminated attribute value"))?;
            let chunk = &self.src[self.pos..self.pos + run];
            check_chars(chunk).map_err(|_| self.err("character not allowed in XML"))?;
            out.push_str(chunk);
            self.pos += run;
            match self.s[self.pos] {
                b if b == q => {
                    self.pos += 1;
                    break;
                }
                b'&' => self.reference(&mut out)?,
                b'<' => return Err(self.err("'<' in an attribute value")),
                b'\t' | b'\n' => {
                    out.push(' ');
                    self.pos += 1;
                }
                _ => return Err(self.err("character not allowed in XML")),
            }
        }
        if out.len() > self.limits.max_attr_len {
            return Err(XmlError::TooLarge("attribute value length"));
        }
        Ok(out)
    }

    fn lookup(&self, prefix: &str) -> Option<NsName> {
        for scope in self.scopes.iter().rev() {
            if let Some((_, uri)) = scope.iter().find(|(p, _)| p == prefix) {
                return Some(uri.clone());
            }
        }
        (prefix == "xml").then(|| NsName::from(NS_XML))
    }

    fn element(&mut self, depth: usize) -> Result<Element, XmlError> {
        if depth >= self.limits.max_depth {
            return Err(XmlError::TooLarge("nesting depth"));
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(XmlError::TooLarge("element count"));
        }
        self.pos += 1; // '<'
        let (prefix, local) = self.qname()?;
        let mut raw: Vec<RawAttr> = Vec::new();
        let mut decls: Vec<(String, NsName)> = Vec::new();
        let empty;
        loop {
            let had_ws = self.skip_ws();
            match self.peek() {
                Some(b'>') => {
                    self.pos += 1;
                    empty = false;
                    break;
                }
                Some(b'/') => {
                    self.expect("/>", "expected '/>'")?;
                    empty = true;
                    break;
                }
                None => return Err(self.err("unterminated start tag")),
                _ => {}
            }
            if !had_ws {
                return Err(self.err("attributes must be separated by whitespace"));
            }
            let qn = self.qname()?;
            self.skip_ws();
            self.expect("=", "expected '=' after an attribute name")?;
            self.skip_ws();
            let value = self.attr_value()?;
            match (&qn.0, qn.1.as_str()) {
                (None, "xmlns") => {
                    if value.is_empty() {
                        decls.push((String::new(), NsName::from("")));
                    } else {
                        self.check_ns_uri("", &value)?;
                        decls.push((String::new(), NsName::from(value)));
                    }
                    if decls.iter().filter(|(p, _)| p.is_empty()).count() > 1 {
                        return Err(self.err("duplicate attribute"));
                    }
                }
                (Some(p), name) if p == "xmlns" => {
                    if value.is_empty() {
                        return Err(XmlError::Namespace(format!(
                            "prefix {name:?} bound to the empty name"
                        )));
                    }
                    if name == "xmlns" || (name == "xml") != (value == NS_XML) || value == NS_XMLNS
                    {
                        return Err(XmlError::Namespace(format!(
                            "prefix {name:?} bound to {value:?}"
                        )));
                    }
                    self.check_ns_uri(name, &value)?;
                    if decls.iter().any(|(q, _)| q == name) {
                        return Err(self.err("duplicate attribute"));
                    }
                    decls.push((name.to_string(), NsName::from(value)));
                }
                _ => {
                    if raw.iter().any(|a| a.qname == qn) {
                        return Err(self.err("duplicate attribute"));
                    }
                    raw.push(RawAttr { qname: qn, value });
                }
            }
            if raw.len() > self.limits.max_attributes {
                return Err(XmlError::TooLarge("attributes on one element"));
            }
            if decls.len() > self.limits.max_namespace_decls {
                return Err(XmlError::TooLarge("namespace declarations on one element"));
            }
        }
        self.scopes.push(decls);
        let ns = match &prefix {
            Some(p) => Some(
                self.lookup(p)
                    .ok_or_else(|| XmlError::UnknownPrefix(p.clone()))?,
            ),
            None => self.lookup("").filter(|u| !u.is_empty()),
        };
        let mut attrs = Vec::with_capacity(raw.len());
        for a in raw {
            let (aprefix, aname) = a.qname;
            let ans = match &aprefix {
                Some(p) => Some(
                    self.lookup(p)
                        .ok_or_else(|| XmlError::UnknownPrefix(p.clone()))?,
                ),
                None => None,
            };
            if ans.is_some() && attrs.iter().any(|b: &Attr| b.ns == ans && b.name == aname) {
                return Err(self.err("duplicate attribute"));
            }
            attrs.push(Attr {
                prefix: aprefix,
                ns: ans,
                name: aname,
                value: a.value,
            });
        }
        let mut el = Element {
            prefix,
            ns,
            name: local,
            attrs,
            ns_decls: Vec::new(),
            children: Vec::new(),
            had_comment: false,
        };
        if !empty {
            self.content(&mut el, depth)?;
        }
        el.ns_decls = self.scopes.pop().unwrap_or_default();
        Ok(el)
    }

    fn check_ns_uri(&self, prefix: &str, value: &str) -> Result<(), XmlError> {
        // Characters that canonical forms escape differently (libxml2 writes
        // `&#38;` where the C14N spec says `&amp;`) and that no URI needs.
        if value.bytes().any(|b| {
            matches!(
                b,
                b'&' | b'<' | b'>' | b'"' | b'\'' | b' ' | b'\t' | b'\n' | b'\r'
            )
        }) {
            return Err(XmlError::Namespace(format!(
                "namespace name {value:?} contains a character that has no single canonical form"
            )));
        }
        if !is_absolute_uri(value) {
            return Err(XmlError::Namespace(format!(
                "namespace name {value:?} for prefix {prefix:?} is not an absolute URI"
            )));
        }
        if value == NS_XML && prefix != "xml" {
            return Err(XmlError::Namespace(
                "the XML namespace bound to another prefix".into(),
            ));
        }
        Ok(())
    }

    fn content(&mut self, el: &mut Element, depth: usize) -> Result<(), XmlError> {
        let mut text = String::new();
        loop {
            if text.len() > self.limits.max_text_len {
                return Err(XmlError::TooLarge("text length"));
            }
            let rest = &self.s[self.pos..];
            let run = rest
                .iter()
                .position(|&b| b == b'<' || b == b'&' || b == b']' || (b < 0x20 && !is_ws(b)))
                .ok_or_else(|| self.err("unclosed element"))?;
            let chunk = &self.src[self.pos..self.pos + run];
            check_chars(chunk).map_err(|_| self.err("character not allowed in XML"))?;
            text.push_str(chunk);
            if text.len() > self.limits.max_text_len {
                return Err(XmlError::TooLarge("text length"));
            }
            self.pos += run;
            match self.s[self.pos] {
                b'&' => self.reference(&mut text)?,
                b']' => {
                    if self.starts("]]>") {
                        return Err(self.err("']]>' in text"));
                    }
                    text.push(']');
                    self.pos += 1;
                }
                b'<' => {
                    if self.starts("</") {
                        flush(el, &mut text);
                        self.pos += 2;
                        let end = self.name_slice()?;
                        let matches = match &el.prefix {
                            Some(p) => {
                                end.len() == p.len() + 1 + el.name.len()
                                    && end.starts_with(p.as_str())
                                    && end.as_bytes()[p.len()] == b':'
                                    && end.ends_with(el.name.as_str())
                            }
                            None => end == el.name,
                        };
                        if !matches {
                            return Err(self.err("end tag does not match the start tag"));
                        }
                        self.skip_ws();
                        self.expect(">", "expected '>'")?;
                        return Ok(());
                    } else if self.starts("<!--") {
                        self.comment()?;
                        el.had_comment = true;
                    } else if self.starts("<![CDATA[") {
                        self.pos += 9;
                        let r = &self.src[self.pos..];
                        let end = r
                            .find("]]>")
                            .ok_or_else(|| self.err("unterminated CDATA section"))?;
                        check_chars(&r[..end])
                            .map_err(|_| self.err("character not allowed in XML"))?;
                        text.push_str(&r[..end]);
                        self.pos += end + 3;
                    } else if self.starts("<?") {
                        return Err(XmlError::ProcessingInstruction);
                    } else if self.starts("<!DOCTYPE") {
                        return Err(XmlError::Doctype);
                    } else if self.starts("<!") {
                        return Err(self.err("markup declaration inside an element"));
                    } else {
                        flush(el, &mut text);
                        let child = self.element(depth + 1)?;
                        el.children.push(Node::Element(child));
                    }
                }
                _ => return Err(self.err("character not allowed in XML")),
            }
        }
    }
}

fn flush(el: &mut Element, text: &mut String) {
    if text.is_empty() {
        return;
    }
    if let Some(Node::Text(prev)) = el.children.last_mut() {
        prev.push_str(text);
    } else {
        el.children.push(Node::Text(std::mem::take(text)));
    }
    text.clear();
}

fn check_chars(s: &str) -> Result<(), ()> {
    // ASCII controls are excluded by the callers' scans; look only at the rest.
    if s.is_ascii() {
        return Ok(());
    }
    if s.chars().all(is_xml_char) {
        Ok(())
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Found by fuzzing (fuzz/, target xml_parse): a declaration value with
    /// no closing quote moved the position past the end and the next
    /// look-ahead panicked on the slice. Every prefix of a document must be
    /// an error, never a panic.
    #[test]
    fn truncated_documents_are_errors_not_panics() {
        assert!(matches!(
            parse(r#"<?xml version="1.0" encoding="UTF-8"#),
            Err(XmlError::Malformed(_, _))
        ));
        let doc = r#"<?xml version='1.0' encoding="UTF-8" standalone="no"?><p:r xmlns:p="urn:p" a="1 &amp; 2"><![CDATA[x]]>&#x41;<!--c--><e/></p:r>"#;
        for end in 0..doc.len() {
            assert!(parse(&doc[..end]).is_err(), "prefix {end} parsed");
        }
        assert!(parse(doc).is_ok());
    }

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
        assert_eq!(
            parse(r#"<?xml-stylesheet href="x"?><x/>"#),
            Err(XmlError::ProcessingInstruction)
        );
    }

    #[test]
    fn undeclared_entity_is_refused() {
        assert!(matches!(parse("<x>&ext;</x>"), Err(XmlError::Entity(_))));
        assert!(matches!(parse("<x a='&ext;'/>"), Err(XmlError::Entity(_))));
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
    fn namespace_names_written_with_character_references_mean_the_same() {
        let el = parse(r#"<p:R xmlns:p="urn:oasis:names:tc:SAML:2.0:&#112;rotocol"/>"#).unwrap();
        assert!(el.is(NS_PROTOCOL, "R"));
    }

    #[test]
    fn encodings_other_than_utf8_are_refused() {
        for doc in [
            r#"<?xml version="1.0" encoding="UTF-7"?><x/>"#,
            r#"<?xml version="1.0" encoding="ISO-8859-1"?><x/>"#,
            r#"<?xml version="1.1"?><x/>"#,
        ] {
            assert!(matches!(parse(doc), Err(XmlError::Encoding(_))), "{doc}");
        }
        assert!(parse(r#"<?xml version="1.0" encoding="utf-8"?><x/>"#).is_ok());
        assert!(matches!(
            parse_with(b"\xFF\xFE<\0x\0/\0>\0", Limits::MESSAGE),
            Err(XmlError::Encoding(_))
        ));
        assert!(matches!(
            parse_with(b"<x>\xC3</x>", Limits::MESSAGE),
            Err(XmlError::Encoding(_))
        ));
        assert!(parse_with(b"\xEF\xBB\xBF<x/>", Limits::MESSAGE).is_ok());
    }

    #[test]
    fn line_ends_and_attribute_whitespace_are_normalized() {
        let el = parse("<x a=\"1\r\n2\t3&#10;4\">a\r\nb\rc&#13;</x>").unwrap();
        assert_eq!(el.attr("a"), Some("1 2 3\n4"));
        assert_eq!(el.text(), "a\nb\nc\r");
    }

    #[test]
    fn comments_are_noted_and_do_not_split_identity() {
        let el = parse(r#"<n>admin@corp<!-- x -->.evil</n>"#).unwrap();
        assert!(el.had_comment);
        assert_eq!(el.text(), "admin@corp.evil");
    }

    #[test]
    fn malformed_documents_are_refused() {
        for doc in [
            "<x>",
            "<x></y>",
            "<x a='1' a='2'/>",
            "<x/><y/>",
            "text<x/>",
            "<x/>text",
            "<x a=1/>",
            "<x a='<'/>",
            "<x>]]></x>",
            "<x><!-- a -- b --></x>",
            "<p:x/>",
            "<x p:a='1'/>",
            "<x xmlns:p=''/>",
            "<x xmlns:p='relative'/>",
            "<x xmlns:xml='urn:other'/>",
            "<x xmlns:a='urn:n' xmlns:b='urn:n' a:y='1' b:y='2'/>",
            "<x>\u{1}</x>",
            "<x>&#0;</x>",
            "<x>&#xD800;</x>",
            "<x><![CDATA[a</x>",
            "<:x/>",
            "<x:/>",
            "<a:b:c xmlns:a='urn:a'/>",
            "<x\u{0}/>",
            "",
            "   ",
            "<!ENTITY x 'y'><x/>",
        ] {
            assert!(parse(doc).is_err(), "accepted {doc:?}");
        }
    }

    #[test]
    fn limits_are_enforced() {
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert_eq!(parse(&deep), Err(XmlError::TooLarge("nesting depth")));
        let wide = format!("<a>{}</a>", "<b/>".repeat(5000));
        assert_eq!(parse(&wide), Err(XmlError::TooLarge("element count")));
        let attrs: String = (0..40).map(|i| format!(" a{i}='1'")).collect();
        assert_eq!(
            parse(&format!("<a{attrs}/>")),
            Err(XmlError::TooLarge("attributes on one element"))
        );
        let long = format!("<a b='{}'/>", "x".repeat(9000));
        assert_eq!(
            parse(&long),
            Err(XmlError::TooLarge("attribute value length"))
        );
        let text = format!("<a>{}</a>", "x".repeat(70_000));
        assert_eq!(parse(&text), Err(XmlError::TooLarge("text length")));
        let name = format!("<{}/>", "a".repeat(300));
        assert_eq!(parse(&name), Err(XmlError::TooLarge("name length")));
    }
}
