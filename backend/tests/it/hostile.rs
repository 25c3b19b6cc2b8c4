//! Attack classes against the ACS verifier (issue "one parser, one signature
//! profile"), each with several vectors. None of these requests carries a
//! signature the attacker could make; the verifier must refuse them (or, where
//! the hostile part is ignored by design, accept only the signed identity),
//! never open a connection, and stay cheap.
//!
//! The timings printed here are for reading, not asserted; the measured
//! figures are in docs/security.md (`cargo bench --bench verify -- hostile`).

use crate::common::*;
use std::time::Instant;

const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

fn timed(what: &str, xml: &str) -> Result<saml_broker::saml::VerifiedAssertion, String> {
    let started = Instant::now();
    let r = check(xml);
    eprintln!(
        "{what}: {} bytes, {:?}, {:?}",
        xml.len(),
        started.elapsed(),
        r.as_ref().map(|_| "accepted").map_err(|e| e.as_str())
    );
    r
}

/// Replace the Transforms of the assertion's Reference.
fn with_transforms(xml: &str, transforms: &str) -> String {
    let start = xml.find("<ds:Transforms>").expect("transforms");
    let end = xml.find("</ds:Transforms>").expect("transforms") + "</ds:Transforms>".len();
    format!(
        "{}<ds:Transforms>{transforms}</ds:Transforms>{}",
        &xml[..start],
        &xml[end..]
    )
}

#[test]
fn nothing_in_a_request_makes_the_verifier_open_a_connection() {
    let wire = Tripwire::new();
    let url = wire.url();
    let xml = signed(&spec());
    let id = assertion_id(&xml);
    let xslt = format!(
        r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:include href="{url}"/></xsl:stylesheet></ds:Transform>"#
    );
    let xpath = format!(
        r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>count(document('{url}'))</ds:XPath></ds:Transform>"#
    );
    let enveloped =
        r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#;
    let exc = r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;
    let foreign_signature = format!(
        r#"<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="{url}"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"#
    );
    let refused = [
        (
            "XSLT include",
            with_transforms(&xml, &format!("{enveloped}{xslt}{exc}")),
        ),
        (
            "XSLT instead of exc-c14n",
            with_transforms(&xml, &format!("{enveloped}{xslt}")),
        ),
        (
            "XPath document()",
            with_transforms(&xml, &format!("{xpath}{enveloped}{exc}")),
        ),
        (
            "XPath Filter 2",
            with_transforms(
                &xml,
                &format!(
                    r#"{enveloped}<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig-xpath:XPath xmlns:dsig-xpath="http://www.w3.org/2002/06/xmldsig-filter2" Filter="union">document('{url}')</dsig-xpath:XPath></ds:Transform>"#
                ),
            ),
        ),
        (
            "external Reference URI",
            xml.replacen(&format!("URI=\"#{id}\""), &format!("URI=\"{url}\""), 1),
        ),
        (
            "a second Signature only a lax parser would see, in Extensions",
            xml.replacen(
                "<samlp:Status>",
                &format!("<samlp:Extensions>{foreign_signature}</samlp:Extensions><samlp:Status>"),
                1,
            ),
        ),
        (
            "a Signature inside the Subject",
            xml.replacen("<Subject>", &format!("<Subject>{foreign_signature}"), 1),
        ),
        (
            "external entity",
            format!(
                "<!DOCTYPE r [<!ENTITY e SYSTEM \"{url}\">]>{}",
                xml.replacen("alice@example.com", "&e;", 1)
            ),
        ),
        (
            "external DTD",
            format!("<!DOCTYPE samlp:Response SYSTEM \"{url}\">{xml}"),
        ),
        (
            "stylesheet processing instruction",
            format!("<?xml-stylesheet type=\"text/xsl\" href=\"{url}\"?>{xml}"),
        ),
    ];
    for (what, doc) in &refused {
        assert_ne!(doc, &xml, "{what}: the mutation did not apply");
        assert!(timed(what, doc).is_err(), "{what} was accepted");
    }
    // Hostile parts the verifier ignores by design: KeyInfo (keys come only
    // from the metadata), schema hints and XInclude (never processed). The
    // signed identity still comes out.
    let ignored = [
        (
            "XInclude",
            xml.replacen(
                "<samlp:Status>",
                &format!(r#"<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}"/><samlp:Status>"#),
                1,
            ),
        ),
        (
            "KeyInfo RetrievalMethod",
            xml.replacen(
                "<ds:X509Data>",
                &format!(r#"<ds:RetrievalMethod URI="{url}"/><ds:X509Data>"#),
                1,
            ),
        ),
        (
            "xsi:schemaLocation",
            xml.replacen(
                "<samlp:Status>",
                &format!(
                    r#"<samlp:Status xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:x {url}">"#
                ),
                1,
            ),
        ),
    ];
    for (what, doc) in &ignored {
        assert_ne!(doc, &xml, "{what}: the mutation did not apply");
        let v = timed(what, doc).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(v.claims.name_id, "alice@example.com");
    }
    assert_eq!(wire.connections(), 0, "the verifier opened a connection");
}

#[test]
fn worst_shapes_under_the_size_cap_are_refused_cheaply() {
    let xml = signed(&spec());
    let many_attrs: String = (0..28_000)
        .map(|i| format!(" {}=\"\"", short_name(i)))
        .collect();
    let deep = format!("{}{}", "<x>".repeat(5_000), "</x>".repeat(5_000));
    let ns_decls: String = (0..3_000)
        .map(|i| format!(" xmlns:n{i}=\"urn:n:{i}\""))
        .collect();
    let many_elements = "<x/>".repeat(30_000);
    let long_text = "A".repeat(200_000);
    let signature = {
        let s = xml.find("<ds:Signature").expect("sig");
        let e = xml.find("</ds:Signature>").expect("sig") + "</ds:Signature>".len();
        xml[s..e].to_string()
    };
    let many_signatures = signature.repeat(60);
    let reference = {
        let s = xml.find("<ds:Reference").expect("ref");
        let e = xml.find("</ds:Reference>").expect("ref") + "</ds:Reference>".len();
        xml[s..e].to_string()
    };
    let many_references = xml.replacen(&reference, &reference.repeat(300), 1);
    let many_transforms = with_transforms(
        &xml,
        &r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#.repeat(2_000),
    );
    let cases = [
        (
            "30,000 attributes on the signed element",
            xml.replacen("<Assertion ", &format!("<Assertion{many_attrs} "), 1),
            "xml_refused",
        ),
        (
            "5,000 levels of nesting",
            xml.replacen("<Subject>", &format!("<Subject>{deep}"), 1),
            "xml_refused",
        ),
        (
            "3,000 namespace declarations",
            xml.replacen("<Assertion ", &format!("<Assertion{ns_decls} "), 1),
            "xml_refused",
        ),
        (
            "30,000 elements",
            xml.replacen("<Subject>", &format!("<Subject>{many_elements}"), 1),
            "xml_refused",
        ),
        (
            "200 kB of text",
            xml.replacen("alice@example.com", &long_text, 1),
            "xml_refused",
        ),
        (
            "60 signatures",
            xml.replacen("<Subject>", &format!("<Subject>{many_signatures}"), 1),
            "signature_profile",
        ),
        ("300 references", many_references, "signature_profile"),
        ("2,000 transforms", many_transforms, "signature_profile"),
    ];
    for (what, doc, code) in &cases {
        assert!(doc.len() < 256 * 1024, "{what} is over the size cap");
        assert_eq!(timed(what, doc).err().as_deref(), Some(*code), "{what}");
    }
}

#[test]
fn the_parser_cannot_be_made_to_read_a_different_document() {
    let xml = signed(&spec());
    // UTF-7 and other encodings, and byte-order marks of other encodings.
    for decl in [
        r#"<?xml version="1.0" encoding="UTF-7"?>"#,
        r#"<?xml version="1.0" encoding="ISO-8859-1"?>"#,
        r#"<?xml version="1.0" encoding="UTF-16"?>"#,
        r#"<?xml version="1.1"?>"#,
    ] {
        assert_eq!(
            check(&format!("{decl}{xml}")).err().as_deref(),
            Some("xml_refused"),
            "{decl}"
        );
    }
    let utf7_payload = format!(
        r#"<?xml version="1.0" encoding="UTF-7"?>{}"#,
        xml.replacen("alice@example.com", "+ADw-x+AD4-", 1)
    );
    assert_eq!(check(&utf7_payload).err().as_deref(), Some("xml_refused"));
    // A namespace name written with character references means the same
    // namespace to the one parser, so a second Assertion is still counted.
    let evil_assertion = r#"<a:Assertion xmlns:a="urn:oasis:names:tc:SAML:2.0:&#97;ssertion" ID="_evil" Version="2.0"><a:Subject><a:NameID>admin@example.com</a:NameID></a:Subject></a:Assertion>"#;
    let second = xml.replacen(
        "<samlp:Status>",
        &format!("{evil_assertion}<samlp:Status>"),
        1,
    );
    assert_eq!(check(&second).err().as_deref(), Some("assertion_count"));
    // The same trick on a Signature placed where the profile forbids it.
    let sig_ns = xml.replacen(
        "<samlp:Status>",
        r#"<samlp:Extensions><d:Signature xmlns:d="http://www.w3.org/2000/09/xmldsig&#35;"/></samlp:Extensions><samlp:Status>"#,
        1,
    );
    assert_eq!(check(&sig_ns).err().as_deref(), Some("signature_profile"));
    // Duplicate IDs, and attributes other than `ID` posing as one.
    let id = assertion_id(&xml);
    let dup = xml.replacen("<samlp:Status>", &format!(r#"<samlp:Status ID="{id}">"#), 1);
    assert_eq!(check(&dup).err().as_deref(), Some("signature_wrapping"));
    for attr in ["Id", "id", "xml:id", "AssertionID"] {
        let alias = xml
            .replacen(&format!("URI=\"#{id}\""), "URI=\"#_alias\"", 1)
            .replacen("<Subject>", &format!(r#"<Subject {attr}="_alias">"#), 1);
        assert!(check(&alias).is_err(), "{attr} counted as an ID");
    }
}

#[test]
fn only_saml_2_0_assertions_are_accepted() {
    let v11 = spec()
        .sign_with(idp_key(), |a| {
            a.replacen("Version=\"2.0\"", "Version=\"1.1\"", 1)
        })
        .expect("sign");
    assert!(v11.contains("Version=\"1.1\""));
    assert_eq!(check(&v11).err().as_deref(), Some("malformed"));
}

fn assertion_id(xml: &str) -> String {
    let a = &xml[xml.find("<Assertion").expect("assertion")..];
    a.split("ID=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("ID")
        .to_string()
}

/// `a`, `b`, ... then two and three letters: short distinct attribute names.
fn short_name(mut i: usize) -> String {
    let mut s = String::new();
    loop {
        s.push((b'a' + (i % 26) as u8) as char);
        i /= 26;
        if i == 0 {
            return s;
        }
    }
}

#[test]
fn verification_has_a_deadline() {
    let xml = signed(&spec());
    let v = verifier().with_deadline(std::time::Duration::ZERO);
    let err = v
        .verify_xml(&xml, Some("_req1"), t0())
        .expect_err("refused");
    assert_eq!(err.error.code(), "deadline");
    // The default leaves ample room for any input under the cap.
    assert!(verifier().verify_xml(&xml, Some("_req1"), t0()).is_ok());
}
