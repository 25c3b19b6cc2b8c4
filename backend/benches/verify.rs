//! ACS verification cost on an ADFS-style response (only the Assertion
//! signed, RSA-SHA256, three roles): the whole `Verifier::verify` path, and
//! its parts (strict parse, exc-c14n of the assertion, the RSA check).
//!
//! `nice cargo bench --bench verify`. Results and the machine they came from
//! are in docs/performance.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use saml_broker::devidp::keys::idp_metadata;
use saml_broker::devidp::{ResponseSpec, SigningKey};
use saml_broker::saml::claims::{ATTR_GROUP, ATTR_ROLE};
use saml_broker::saml::{IdpMetadata, Verifier, VerifySettings};

const IDP: &str = "https://adfs.example.com/adfs/services/trust";
const SSO: &str = "https://adfs.example.com/adfs/ls/";
const SP: &str = "https://broker.example.com/saml/metadata";
const ACS: &str = "https://broker.example.com/saml/acs";
const REQUEST_ID: &str = "_bench_request_1";
const ROLES: [&str; 3] = [
    "arn:aws:iam::111111111111:role/Dev,arn:aws:iam::111111111111:saml-provider/ADFS",
    "arn:aws:iam::222222222222:role/ReadOnly,arn:aws:iam::222222222222:saml-provider/ADFS",
    "arn:aws:iam::333333333333:role/Admin,arn:aws:iam::333333333333:saml-provider/ADFS",
];
const GROUPS: [&str; 3] = ["Developers", "AWS-ReadOnly", "Staff"];

struct Fixture {
    /// The instant the response was issued at; the broker is given exactly this.
    now: DateTime<Utc>,
    b64: String,
    metadata_xml: String,
}

fn fixture() -> Fixture {
    let key = SigningKey::generate("bench idp").unwrap();
    // The spec serialises times with millisecond precision; pin `now` to the same value.
    let now = Utc::now().trunc_subsecs(3);
    let b64 = ResponseSpec::adfs(now, IDP, ACS, SP, "alice@example.com")
        .with_request(REQUEST_ID)
        .with_attribute(ATTR_ROLE, &ROLES)
        .with_attribute(ATTR_GROUP, &GROUPS)
        .sign_base64(&key)
        .unwrap();
    let metadata_xml = idp_metadata(IDP, SSO, &[key.cert_base64().unwrap()]);
    Fixture {
        now,
        b64,
        metadata_xml,
    }
}

fn broker_verifier(f: &Fixture) -> Verifier {
    let settings = VerifySettings {
        sp_entity_id: SP.into(),
        acs_url: ACS.into(),
        max_clock_skew: Duration::seconds(60),
        allow_sha1: false,
        allow_idp_initiated: false,
        max_bytes: 256 * 1024,
    };
    Verifier::new(settings, IdpMetadata::parse(&f.metadata_xml).unwrap())
}

fn bench_verify(c: &mut Criterion) {
    let f = fixture();
    let verifier = broker_verifier(&f);

    // The response must be accepted before it is timed.
    let verified = verifier
        .verify(&f.b64, Some(REQUEST_ID), f.now)
        .map_err(|r| r.error.to_string())
        .unwrap();
    assert_eq!(verified.claims.name_id, "alice@example.com");
    assert_eq!(verified.claims.roles.len(), 3);
    assert_eq!(verified.claims.groups.len(), 3);
    assert_eq!(
        verified.claims.session_name.as_deref(),
        Some("alice@example.com")
    );
    eprintln!(
        "fixture: {} bytes of XML ({} base64), now={}",
        f.b64.len() * 3 / 4,
        f.b64.len(),
        f.now
    );

    let mut g = c.benchmark_group("broker_verify_full");
    g.throughput(Throughput::Elements(1));
    g.bench_function("adfs_assertion_signed_rsa_sha256", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&f.b64), Some(REQUEST_ID), f.now)
                .map_err(|r| r.error)
                .unwrap()
        })
    });
    g.finish();

    let xml_text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&f.b64)
            .unwrap(),
    )
    .unwrap();
    let mut g = c.benchmark_group("broker_verify_parts");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse", |b| {
        b.iter(|| saml_broker::saml::xml::parse(black_box(&xml_text)).unwrap())
    });
    let root = saml_broker::saml::xml::parse(&xml_text).unwrap();
    let assertion = root
        .child(saml_broker::saml::xml::NS_ASSERTION, "Assertion")
        .unwrap();
    g.bench_function("exc_c14n_assertion", |b| {
        b.iter(|| {
            saml_broker::saml::c14n::exclusive(&root, black_box(assertion), None, &[]).unwrap()
        })
    });
    g.finish();

    // Hostile shapes under the 256 KiB cap (as in tests/it/hostile.rs): each
    // must be refused, and this is how long the refusal takes.
    let signature = {
        let s = xml_text.find("<ds:Signature").unwrap();
        let e = xml_text.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
        xml_text[s..e].to_string()
    };
    let reference = {
        let s = xml_text.find("<ds:Reference").unwrap();
        let e = xml_text.find("</ds:Reference>").unwrap() + "</ds:Reference>".len();
        xml_text[s..e].to_string()
    };
    let name = |mut i: usize| {
        let mut s = String::new();
        loop {
            s.push((b'a' + (i % 26) as u8) as char);
            i /= 26;
            if i == 0 {
                return s;
            }
        }
    };
    let attrs: String = (0..28_000).map(|i| format!(" {}=\"\"", name(i))).collect();
    let decls: String = (0..3_000)
        .map(|i| format!(" xmlns:n{i}=\"urn:n:{i}\""))
        .collect();
    let transforms_start = xml_text.find("<ds:Transforms>").unwrap();
    let transforms_end = xml_text.find("</ds:Transforms>").unwrap() + "</ds:Transforms>".len();
    let many_transforms = format!(
        "{}<ds:Transforms>{}</ds:Transforms>{}",
        &xml_text[..transforms_start],
        r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#.repeat(2_000),
        &xml_text[transforms_end..]
    );
    let xslt = format!(
        "{}<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"><xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\">{}</xsl:stylesheet></ds:Transform></ds:Transforms>{}",
        &xml_text[..transforms_start],
        "<xsl:template match=\"/\"><xsl:for-each select=\"//*\"><xsl:value-of select=\"count(//*)\"/></xsl:for-each></xsl:template>".repeat(1_000),
        &xml_text[transforms_end..]
    );
    let shapes: Vec<(&str, String)> = vec![
        (
            "28k_attributes",
            xml_text.replacen("<Assertion ", &format!("<Assertion{attrs} "), 1),
        ),
        (
            "5k_nesting",
            xml_text.replacen(
                "<Subject>",
                &format!("<Subject>{}{}", "<x>".repeat(5_000), "</x>".repeat(5_000)),
                1,
            ),
        ),
        (
            "3k_namespace_decls",
            xml_text.replacen("<Assertion ", &format!("<Assertion{decls} "), 1),
        ),
        (
            "30k_elements",
            xml_text.replacen(
                "<Subject>",
                &format!("<Subject>{}", "<x/>".repeat(30_000)),
                1,
            ),
        ),
        (
            "200kB_text",
            xml_text.replacen("alice@example.com", &"A".repeat(200_000), 1),
        ),
        (
            "60_signatures",
            xml_text.replacen(
                "<Subject>",
                &format!("<Subject>{}", signature.repeat(60)),
                1,
            ),
        ),
        (
            "300_references",
            xml_text.replacen(&reference, &reference.repeat(300), 1),
        ),
        ("2k_transforms", many_transforms),
        ("xslt_1k_templates", xslt),
        (
            "bad_signature_valid_shape",
            xml_text.replacen("alice@example.com", "mallory@example.com", 1),
        ),
    ];
    let mut g = c.benchmark_group("hostile");
    g.throughput(Throughput::Elements(1));
    for (label, doc) in &shapes {
        assert!(doc.len() < 256 * 1024, "{label} over the cap");
        assert!(
            verifier.verify_xml(doc, Some(REQUEST_ID), f.now).is_err(),
            "{label} accepted"
        );
        g.bench_function(*label, |b| {
            b.iter(|| {
                verifier
                    .verify_xml(black_box(doc), Some(REQUEST_ID), f.now)
                    .is_err()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
