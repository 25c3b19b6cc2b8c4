//! Arbitrary bytes into the one XML parser, with the message limits; when
//! it parses, canonicalize the root (the same walk dsig does).
#![no_main]

use libfuzzer_sys::fuzz_target;
use saml_broker::saml::{c14n, xml};

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = xml::parse_with(data, xml::Limits::MESSAGE) {
        let _ = c14n::exclusive(&root, &root, None, &["#default".to_string()]);
    }
});
