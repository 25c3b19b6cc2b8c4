//! XML signature wrapping (XSW1-8), generated at test time from a valid,
//! signed response. Every variant must be refused, and the identity of the
//! evil assertion must never come out.

use crate::common::*;

struct Parts {
    prefix: String,
    assertion: String,
    suffix: String,
}

fn split(xml: &str) -> Parts {
    let start = xml.find("<Assertion").unwrap();
    let end = xml.find("</Assertion>").unwrap() + "</Assertion>".len();
    Parts {
        prefix: xml[..start].to_string(),
        assertion: xml[start..end].to_string(),
        suffix: xml[end..].to_string(),
    }
}

fn signature_of(a: &str) -> String {
    let s = a.find("<ds:Signature").unwrap();
    let e = a.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    a[s..e].to_string()
}

fn without_signature(a: &str) -> String {
    if a.contains("<ds:Signature") {
        a.replacen(&signature_of(a), "", 1)
    } else {
        a.to_string()
    }
}

/// The evil twin: admin's identity, another id, no signature.
fn evil(a: &str, id: &str) -> String {
    let mut e = without_signature(a).replacen("alice@example.com", "admin@example.com", 2);
    let old_id = a.split("ID=\"").nth(1).unwrap().split('"').next().unwrap();
    e = e.replace(old_id, id);
    e
}

fn refused(name: &str, xml: &str) {
    match check(xml) {
        Ok(v) => panic!("{name} accepted as {}", v.claims.name_id),
        Err(code) => assert!(
            [
                "assertion_count",
                "bad_signature",
                "signature_wrapping",
                "unsigned",
                "malformed"
            ]
            .contains(&code.as_str()),
            "{name}: unexpected refusal {code}"
        ),
    }
}

#[test]
fn xsw_assertion_level_variants_are_refused() {
    let xml = signed(&spec());
    let p = split(&xml);
    let a = &p.assertion;
    let sig = signature_of(a);
    let e = evil(a, "_evil");
    let variants = vec![
        // XSW3: evil assertion before the signed one.
        ("XSW3", format!("{}{e}{a}{}", p.prefix, p.suffix)),
        // XSW4: the signed assertion inside the evil one.
        (
            "XSW4",
            format!(
                "{}{}{a}</Assertion>{}",
                p.prefix,
                e.trim_end_matches("</Assertion>"),
                p.suffix
            ),
        ),
        // XSW5: evil assertion carries the original signature; the original moves after it.
        ("XSW5", {
            let e5 = e.replacen("</Issuer>", &format!("</Issuer>{sig}"), 1);
            format!("{}{e5}{}{}", p.prefix, without_signature(a), p.suffix)
        }),
        // XSW6: the original assertion inside the copied signature's Object.
        ("XSW6", {
            let sig6 = sig.replacen(
                "</ds:Signature>",
                &format!(
                    "<ds:Object>{}</ds:Object></ds:Signature>",
                    without_signature(a)
                ),
                1,
            );
            let e6 = e.replacen("</Issuer>", &format!("</Issuer>{sig6}"), 1);
            format!("{}{e6}{}", p.prefix, p.suffix)
        }),
        // XSW7: the signed assertion hidden in Extensions, evil one in its place.
        (
            "XSW7",
            format!(
                "{}<samlp:Extensions>{a}</samlp:Extensions>{e}{}",
                p.prefix, p.suffix
            ),
        ),
        // XSW8: evil assertion with the original (unsigned copy) in its Signature's Object.
        ("XSW8", {
            let sig8 = sig.replacen(
                "</ds:Signature>",
                &format!("<ds:Object>{a}</ds:Object></ds:Signature>",),
                1,
            );
            let e8 = e.replacen("</Issuer>", &format!("</Issuer>{sig8}"), 1);
            format!("{}{e8}{}", p.prefix, p.suffix)
        }),
        // The evil assertion alone, with the original signature and the original id.
        ("same-id", {
            let old_id = a.split("ID=\"").nth(1).unwrap().split('"').next().unwrap();
            let e2 = evil(a, old_id).replacen("</Issuer>", &format!("</Issuer>{sig}"), 1);
            format!("{}{e2}{}", p.prefix, p.suffix)
        }),
        // The evil assertion alone, pointing at an id that is no longer there.
        ("dangling", {
            let e2 = e.replacen("</Issuer>", &format!("</Issuer>{sig}"), 1);
            format!("{}{e2}{}", p.prefix, p.suffix)
        }),
    ];
    for (name, doc) in variants {
        assert_ne!(doc, xml, "{name} did not change the document");
        assert!(
            doc.contains("admin@example.com"),
            "{name} lost the evil identity"
        );
        refused(name, &doc);
    }
}

#[test]
fn xsw_response_level_variants_are_refused() {
    let mut s = spec();
    s.sign_response = true;
    s.sign_assertion = false;
    let xml = signed(&s);
    check(&xml).expect("baseline response-signed document verifies");
    let body = xml.trim_start_matches(|c| c != '<');
    let body = if body.starts_with("<?xml") {
        body.split_once("?>").unwrap().1.trim_start()
    } else {
        body
    };
    let p = split(body);
    let e = evil(&p.assertion, "_evil");
    let evil_response_open = "<samlp:Response ID=\"_evilresp\" Version=\"2.0\" IssueInstant=\"2026-11-25T12:00:00Z\" Destination=\"https://broker.example.com/saml/acs\" InResponseTo=\"_req1\" xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"><Issuer xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\">https://adfs.example.com/adfs/services/trust</Issuer><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>";
    let variants = vec![
        // XSW1: evil response wraps the original signed response in an Object after the evil assertion.
        ("XSW1", format!("{evil_response_open}{e}<ds:Object xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{body}</ds:Object></samlp:Response>")),
        // XSW2: the original signed response as the first child of the evil one.
        ("XSW2", format!("{evil_response_open}{body}{e}</samlp:Response>")),
        // Replace the assertion inside the signed response.
        ("swap", format!("{}{e}{}", p.prefix, p.suffix)),
    ];
    for (name, doc) in variants {
        refused(name, &doc);
    }
}
