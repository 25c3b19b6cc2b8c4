//! Writes the seed corpora: signed responses (with the fixed fuzz key) to
//! corpus/verify and corpus/xml_parse. Usage: cargo run --example seed (from fuzz/).
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn main() {
    let key = saml_broker_fuzz::key();
    let v = saml_broker_fuzz::verifier(&key);
    for dir in ["corpus/verify", "corpus/xml_parse"] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    for (name, spec) in saml_broker_fuzz::seed_specs() {
        let xml = spec.sign(&key).expect("sign");
        let verdict = v.verify_xml(
            &xml,
            Some(saml_broker_fuzz::REQUEST_ID),
            saml_broker_fuzz::now(),
        );
        println!(
            "{name}: {}",
            if verdict.is_ok() {
                "accepted"
            } else {
                "refused"
            }
        );
        // Also with an XML declaration, as most IdPs send it (the fuzzer
        // found the declaration bug only from xml_parse's seeds, which had one).
        let with_decl = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}");
        for dir in ["corpus/verify", "corpus/xml_parse"] {
            std::fs::write(format!("{dir}/{name}.xml"), &xml).expect("write");
            std::fs::write(format!("{dir}/{name}-decl.xml"), &with_decl).expect("write");
        }
    }
}
