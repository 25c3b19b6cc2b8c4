//! `frontend/src/api-types.ts` is generated from the Rust API types
//! (`saml_broker::web::api_types`): this test renders it and compares it with
//! the committed file. After changing the Rust types, regenerate it with
//! `UPDATE_API_TYPES=1 cargo test -p saml-broker --test it api_types`.

use saml_broker::web::api_types;
use std::path::Path;

#[test]
fn every_description_matches_what_serde_writes() {
    let problems = api_types::check();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_typescript_api_types_are_generated_from_the_rust_ones() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/src/api-types.ts");
    let want = api_types::typescript();
    if std::env::var_os("UPDATE_API_TYPES").is_some_and(|v| v == "1") {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let first = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| have.lines().count().min(want.lines().count()));
        panic!(
            "frontend/src/api-types.ts is not what backend/src/web/api_types.rs generates \
             (first difference at line {}: have {:?}, want {:?}).\n\
             Regenerate it with: UPDATE_API_TYPES=1 cargo test -p saml-broker --test it api_types\n\
             then rebuild the frontend (npm run build --prefix frontend).",
            first + 1,
            have.lines().nth(first).unwrap_or("<end of file>"),
            want.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}
