//! Shared fixtures for the fuzz targets: a fixed IdP key (committed test
//! key, never used outside fuzzing), the verifier pinned to it, and the
//! response specs the seed corpus is made from.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use saml_broker::devidp::keys::idp_metadata;
use saml_broker::devidp::{ResponseSpec, SigningKey};
use saml_broker::saml::{IdpMetadata, Verifier, VerifySettings};

pub const IDP: &str = "https://adfs.example.com/adfs/services/trust";
pub const SP: &str = "https://broker.example.com/saml/metadata";
pub const ACS: &str = "https://broker.example.com/saml/acs";
pub const REQUEST_ID: &str = "_req1";

pub fn key() -> SigningKey {
    SigningKey {
        key: openssl::pkey::PKey::private_key_from_pem(include_bytes!("../keys/idp.key.pem"))
            .expect("fuzz key"),
        cert: openssl::x509::X509::from_pem(include_bytes!("../keys/idp.cert.pem"))
            .expect("fuzz cert"),
    }
}

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

pub fn verifier(key: &SigningKey) -> Verifier {
    let md = idp_metadata(
        IDP,
        "https://adfs.example.com/adfs/ls/",
        &[key.cert_base64().expect("cert")],
    );
    Verifier::new(
        VerifySettings {
            sp_entity_id: SP.into(),
            acs_url: ACS.into(),
            max_clock_skew: chrono::Duration::seconds(60),
            allow_sha1: false,
            allow_idp_initiated: false,
            max_bytes: 256 * 1024,
        },
        IdpMetadata::parse(&md).expect("metadata"),
    )
}

/// Valid responses of the shapes the broker accepts (and two it refuses
/// late: SHA-1 and a response signed but its assertion not).
pub fn seed_specs() -> Vec<(&'static str, ResponseSpec)> {
    let base = || {
        ResponseSpec::adfs(now(), IDP, ACS, SP, "alice@example.com")
            .with_request(REQUEST_ID)
            .with_attribute(
                saml_broker::saml::claims::ATTR_ROLE,
                &["arn:aws:iam::111111111111:role/Dev,arn:aws:iam::111111111111:saml-provider/ADFS"],
            )
            .with_attribute(saml_broker::saml::claims::ATTR_GROUP, &["Developers"])
    };
    let mut both = base();
    both.sign_response = true;
    let mut response_only = base();
    response_only.sign_response = true;
    response_only.sign_assertion = false;
    let mut sha1 = base();
    sha1.signature_method = saml_broker::saml::dsig::RSA_SHA1.into();
    sha1.digest_method = saml_broker::saml::dsig::SHA1.into();
    let mut sha512 = base();
    sha512.signature_method = saml_broker::saml::dsig::RSA_SHA512.into();
    sha512.digest_method = saml_broker::saml::dsig::SHA512.into();
    vec![
        ("assertion-signed", base()),
        ("both-signed", both),
        ("response-signed", response_only),
        ("sha1", sha1),
        ("sha512", sha512),
    ]
}
