//! Real-world responses: documents signed by other IdPs and libraries (Google,
//! Okta, OneLogin, Azure AD, ADFS-format, Feide, SAMLtest), taken from the
//! public test corpora named in `tests/corpus/README.md` and laid out by
//! `scripts/corpus.sh` (they are third-party data and are not committed; the
//! test says so and passes when they are absent).
//!
//! Every `ds:Signature` of every document goes through the verifier's own
//! parser, `dsig::profile_check` and `verify` against the certificate the
//! case names, and must end exactly as recorded. Genuine signatures must
//! verify; a one-byte change inside the signed element must then fail on the
//! digest. Each verdict is cross-checked with `xmlsec1 --verify`; where the
//! two differ (our profile or ring is stricter), the case records why.

use base64::Engine;
use saml_broker::saml::dsig::{self, DsigError};
use saml_broker::saml::xml::{self, Element, Limits, NS_DSIG};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the verifier's key comes from.
enum Keys {
    /// Every X509Certificate of the IdP's metadata (as the broker pins them).
    Metadata(&'static str),
    /// A PEM certificate published beside the response.
    Pem(&'static str),
    /// The certificate the response carries in its own KeyInfo: these
    /// fixtures come with no separate IdP certificate. Trust is not what is
    /// tested here, only that c14n and the signature check agree.
    KeyInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Verifies; a one-byte change in the signed element fails on the digest.
    Verifies,
    /// The digest matches (so canonicalization agrees with the signer) but the
    /// key is 1024-bit RSA, which ring refuses (RSA_PKCS1_2048_8192_*): the
    /// verdict is `DsigError::Signature`. xmlsec1 accepts the signature.
    Rsa1024,
    /// The document was edited after signing by whoever published it: the
    /// digest does not match (xmlsec1 refuses it too).
    Digest,
    /// Outside the SAML signature profile: refused before any cryptography
    /// with exactly this message (xmlsec1 accepts it).
    Refused(&'static str),
}

struct Case {
    name: &'static str,
    file: &'static str,
    keys: Keys,
    /// RSA-SHA1/SHA-1: checked with allow_sha1 = true, and shown refused
    /// with the default allow_sha1 = false.
    sha1: bool,
    /// One verdict per ds:Signature, in document order.
    expect: &'static [Expect],
}

const CASES: &[Case] = &[
    Case {
        name: "Google Workspace, signed Response",
        file: "google/response.xml.base64",
        keys: Keys::Metadata("google/idp-metadata.xml"),
        sha1: false,
        expect: &[Expect::Verifies],
    },
    Case {
        name: "Okta, signed Response, encrypted Assertion",
        file: "okta/response.xml.base64",
        keys: Keys::Metadata("okta/idp-metadata.xml"),
        sha1: false,
        expect: &[Expect::Verifies],
    },
    Case {
        name: "Okta, signed Response with a RetrievalMethod in the EncryptedKey",
        file: "okta/retrieval-method.xml",
        keys: Keys::KeyInfo,
        sha1: false,
        expect: &[Expect::Verifies],
    },
    Case {
        name: "Okta, signed Assertion with an InclusiveNamespaces PrefixList",
        file: "okta/inclusive-namespaces.xml",
        keys: Keys::Pem("okta/inclusive-namespaces.pem"),
        sha1: true,
        expect: &[Expect::Rsa1024],
    },
    Case {
        name: "OneLogin, signed Response",
        file: "onelogin/response.xml.base64",
        keys: Keys::Metadata("onelogin/idp-metadata.xml"),
        sha1: true,
        expect: &[Expect::Verifies],
    },
    Case {
        name: "Azure AD (sts.windows.net), signed Assertion, `ID = \"...\"` spacing",
        file: "azure-ad/assertion.xml",
        keys: Keys::KeyInfo,
        sha1: false,
        expect: &[Expect::Verifies],
    },
    Case {
        name: "ADFS-format, default-namespace ds:Signature, RSA-SHA256",
        file: "adfs/response-xmlns.xml",
        keys: Keys::KeyInfo,
        sha1: false,
        expect: &[Expect::Verifies],
    },
    Case {
        name: "ADFS-format, RSA-SHA256, 1024-bit key",
        file: "adfs/response-sha256.xml",
        keys: Keys::KeyInfo,
        sha1: false,
        expect: &[Expect::Rsa1024],
    },
    Case {
        name: "ADFS-format, RSA-SHA512, 1024-bit key",
        file: "adfs/response-sha512.xml",
        keys: Keys::KeyInfo,
        sha1: false,
        expect: &[Expect::Rsa1024],
    },
    Case {
        name: "ADFS (real 'ADFS Signing' certificate), content edited by its publisher",
        file: "adfs/response-edited.xml.base64",
        keys: Keys::KeyInfo,
        sha1: false,
        expect: &[Expect::Digest],
    },
    Case {
        name: "Feide (SimpleSAMLphp), signed Response and Assertion",
        file: "feide/response.xml",
        keys: Keys::Pem("feide/feide_public.pem"),
        sha1: true,
        expect: &[Expect::Rsa1024, Expect::Rsa1024],
    },
    Case {
        name: "Starfield (.NET-style IdP, certificate CN SAMLTest-...), inclusive C14N",
        file: "starfield/response.xml.base64",
        keys: Keys::KeyInfo,
        sha1: true,
        expect: &[Expect::Refused(
            // SignedInfo's CanonicalizationMethod is inclusive C14N 1.0 (and the
            // Reference has only the enveloped-signature transform).
            "signature algorithm http://www.w3.org/TR/2001/REC-xml-c14n-20010315 is not allowed",
        )],
    },
];

fn corpus_dir() -> PathBuf {
    std::env::var_os("SAML_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus"))
}

/// The document bytes: XML as published, or base64 of it.
fn load(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if raw.trim_ascii_start().starts_with(b"<") {
        return raw;
    }
    let compact: Vec<u8> = raw
        .into_iter()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .expect("base64 document")
}

fn b64(text: &str) -> Vec<u8> {
    let compact: String = text.split_ascii_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .expect("base64 certificate")
}

/// DER of a certificate given as base64 DER, or (as some fixtures do) as
/// base64 of a whole PEM file.
fn der_of(b64_text: &str) -> Vec<u8> {
    let der = b64(b64_text);
    match std::str::from_utf8(&der) {
        Ok(pem) if pem.starts_with("-----BEGIN") => pem_body(pem),
        _ => der,
    }
}

fn pem_body(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    b64(&body)
}

/// The text of every `X509Certificate` element, by plain text search.
fn x509_texts(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(i) = rest.find("X509Certificate>") {
        let after = &rest[i + "X509Certificate>".len()..];
        let end = after.find('<').unwrap_or(after.len());
        let text = after[..end].trim();
        if !text.is_empty() {
            out.push(text.to_string());
        }
        rest = &after[end..];
    }
    out
}

fn certificates(dir: &Path, case: &Case, doc: &[u8]) -> Vec<Vec<u8>> {
    let certs = match case.keys {
        Keys::Metadata(f) => {
            let md = std::fs::read_to_string(dir.join(f)).expect("metadata");
            x509_texts(&md).iter().map(|t| der_of(t)).collect()
        }
        Keys::Pem(f) => vec![pem_body(
            &std::fs::read_to_string(dir.join(f)).expect("pem"),
        )],
        Keys::KeyInfo => x509_texts(std::str::from_utf8(doc).expect("utf-8"))
            .iter()
            .map(|t| der_of(t))
            .collect(),
    };
    assert!(!certs.is_empty(), "{}: no certificate", case.name);
    certs
}

/// Every ds:Signature with the element it is a child of, in document order.
fn signatures(root: &Element) -> Vec<(&Element, &Element)> {
    let mut out = Vec::new();
    root.walk(None, &mut |el, parent| {
        if let (true, Some(p)) = (el.is(NS_DSIG, "Signature"), parent) {
            out.push((p, el));
        }
    });
    out
}

fn check(
    root: &Element,
    signed: &Element,
    sig: &Element,
    keys: &[dsig::VerifyingKey],
    allow_sha1: bool,
) -> Result<(), DsigError> {
    dsig::profile_check(signed, sig, allow_sha1)?.verify(root, signed, keys)
}

/// The nth signature's verdict in a document given as bytes.
fn verdict_of(
    doc: &[u8],
    n: usize,
    keys: &[dsig::VerifyingKey],
    allow_sha1: bool,
) -> Result<(), DsigError> {
    let root = xml::parse_with(doc, Limits::MESSAGE).expect("parse");
    let sigs = signatures(&root);
    let (signed, sig) = sigs[n];
    check(&root, signed, sig, keys, allow_sha1)
}

/// Change one byte of the first NameID's (else Issuer's) text at or after
/// the signed element's start tag.
fn tamper(doc: &[u8], signed_id: &str) -> Vec<u8> {
    let text = std::str::from_utf8(doc).expect("utf-8");
    let start = text
        .find(&format!("\"{signed_id}\""))
        .or_else(|| text.find(&format!("'{signed_id}'")))
        .expect("signed element's ID in the text");
    for name in ["NameID", "Issuer"] {
        let mut from = start;
        while let Some(i) = text[from..].find(name) {
            let at = from + i;
            let before = text.as_bytes()[at - 1];
            let after = text.as_bytes()[at + name.len()];
            if (before == b'<' || before == b':') && (after == b'>' || after == b' ') {
                let gt = at + text[at..].find('>').expect("end of start tag");
                let mut out = doc.to_vec();
                let b = &mut out[gt + 1..];
                let pos = b
                    .iter()
                    .position(|c| c.is_ascii_alphanumeric())
                    .expect("text to change");
                b[pos] = if b[pos] == b'x' { b'y' } else { b'x' };
                return out;
            }
            from = at + name.len();
        }
    }
    panic!("nothing to tamper with after ID {signed_id}")
}

/// `xmlsec1 --verify` of the signature that is a child of the element with
/// this ID, with the certificates as the only keys (KeyInfo is not read:
/// some fixtures carry a malformed X509Certificate there).
fn xmlsec1_verifies(dir: &Path, doc: &[u8], signed_id: &str, certs: &[Vec<u8>]) -> bool {
    std::fs::create_dir_all(dir).expect("tmp");
    let file = dir.join("doc.xml");
    std::fs::write(&file, doc).expect("write");
    let mut cmd = Command::new("xmlsec1");
    cmd.args([
        "--verify",
        "--enabled-reference-uris",
        "same-doc",
        "--enabled-key-data",
        "rsa",
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        "--node-xpath",
    ])
    .arg(format!(
        "//*[@ID='{signed_id}']/*[local-name()='Signature' and namespace-uri()='{NS_DSIG}']"
    ));
    for (i, c) in certs.iter().enumerate() {
        let p = dir.join(format!("cert{i}.pem"));
        std::fs::write(&p, crate::common::pem_certificate(c)).expect("pem");
        cmd.arg("--pubkey-cert-pem").arg(p);
    }
    let out = cmd
        .arg(&file)
        .output()
        .expect("xmlsec1 (Debian package xmlsec1, installed by scripts/setup.sh)");
    out.status.success()
}

#[test]
fn real_world_signatures_verify_and_fail_when_changed() {
    let dir = corpus_dir();
    if !dir.join(CASES[0].file).exists() {
        eprintln!(
            "corpus not laid out in {}: skipped (see tests/corpus/README.md, scripts/corpus.sh)",
            dir.display()
        );
        return;
    }
    let tmp = std::env::temp_dir().join(format!("broker-corpus-{}", std::process::id()));
    let mut report = Vec::new();
    for case in CASES {
        let doc = load(&dir.join(case.file));
        let certs = certificates(&dir, case, &doc);
        let keys: Vec<dsig::VerifyingKey> = certs
            .iter()
            .filter_map(|c| dsig::key_from_certificate(c))
            .collect();
        assert!(!keys.is_empty(), "{}: no usable key", case.name);
        let root = xml::parse_with(&doc, Limits::MESSAGE)
            .unwrap_or_else(|e| panic!("{}: our parser refused it: {e}", case.name));
        let sigs = signatures(&root);
        assert_eq!(
            sigs.len(),
            case.expect.len(),
            "{}: number of signatures",
            case.name
        );
        for (n, ((signed, sig), expect)) in sigs.iter().zip(case.expect).enumerate() {
            let id = signed.attr("ID").expect("signed element ID").to_string();
            let what = format!("{} (signature {n} on {})", case.name, signed.name);
            let got = check(&root, signed, sig, &keys, case.sha1);
            let xmlsec = xmlsec1_verifies(&tmp, &doc, &id, &certs);
            match expect {
                Expect::Verifies => {
                    assert_eq!(got, Ok(()), "{what}");
                    assert!(xmlsec, "{what}: xmlsec1 disagrees");
                }
                Expect::Rsa1024 => {
                    assert_eq!(got, Err(DsigError::Signature), "{what}");
                    assert!(
                        keys.iter()
                            .all(|k| matches!(k, dsig::VerifyingKey::Rsa(der) if der.len() < 160)),
                        "{what}: expected a 1024-bit RSA key"
                    );
                    assert!(xmlsec, "{what}: xmlsec1 should accept the 1024-bit key");
                }
                Expect::Digest => {
                    assert_eq!(got, Err(DsigError::Digest), "{what}");
                    assert!(!xmlsec, "{what}: xmlsec1 accepts it");
                }
                Expect::Refused(msg) => {
                    assert_eq!(
                        got.map_err(|e| e.to_string()),
                        Err(msg.to_string()),
                        "{what}"
                    );
                    assert!(xmlsec, "{what}: xmlsec1 should accept it (we are stricter)");
                }
            }
            if case.sha1 && !matches!(expect, Expect::Refused(_)) {
                assert!(
                    matches!(
                        check(&root, signed, sig, &keys, false),
                        Err(DsigError::Algorithm(_))
                    ),
                    "{what}: SHA-1 must be refused by default"
                );
            }
            // One byte changed inside the signed element.
            let changed = tamper(&doc, &id);
            let after = verdict_of(&changed, n, &keys, case.sha1);
            match expect {
                Expect::Refused(msg) => {
                    assert_eq!(after.map_err(|e| e.to_string()), Err(msg.to_string()))
                }
                _ => assert_eq!(after, Err(DsigError::Digest), "{what}: after a change"),
            }
            if *expect == Expect::Verifies {
                assert!(
                    !xmlsec1_verifies(&tmp, &changed, &id, &certs),
                    "{what}: xmlsec1 accepts the changed document"
                );
            }
            report.push(format!("{what}: {expect:?}"));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!("{}", report.join("\n"));
}
