//! Arbitrary bytes as the XML of a response, through the whole verifier
//! (parse, structure, profile, c14n, ring, conditions, claims) pinned to a
//! fixed key, at a fixed instant. A refusal is fine; a panic or a hang is a
//! finding. The seeds (`cargo run --example seed`) are responses signed with
//! that key, so mutations start from inputs that reach every check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn verifier() -> &'static saml_broker::saml::Verifier {
    static V: OnceLock<saml_broker::saml::Verifier> = OnceLock::new();
    V.get_or_init(|| saml_broker_fuzz::verifier(&saml_broker_fuzz::key()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = verifier().verify_xml(
        text,
        Some(saml_broker_fuzz::REQUEST_ID),
        saml_broker_fuzz::now(),
    ) {
        // Only the seeds' signed content can verify: the issuer is theirs.
        assert_eq!(a.issuer, saml_broker_fuzz::IDP);
    }
});
