//! Memory flatness over many verifications, on one thread.
//!
//! `MEMORY_ITERATIONS=1000000 nice cargo bench --bench memory`
//!
//! Runs `Verifier::verify` (the broker's own parser, exc-c14n and ring) on
//! the same response over and over. (The libxmlsec1 path this replaced grew
//! about 3.1 kB per call in samael's default mode; see docs/samael-leak.md.)
//!
//! Prints VmRSS (from /proc/self/status) after a 1,000-iteration warm-up and
//! every 10,000 iterations, then one summary line.
//!
//! Optional: `MEMORY_SIGN=assertion|response|both` chooses what the IdP signs
//! (default `assertion`, the ADFS default); `MEMORY_WRITE_FIXTURE=DIR` writes
//! the signed response (`response.xml`) and the IdP certificate (`idp-cert.der`)
//! there, to reproduce the measurement outside this crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use saml_broker::devidp::keys::idp_metadata;
use saml_broker::devidp::{ResponseSpec, SigningKey};
use saml_broker::saml::claims::{ATTR_GROUP, ATTR_ROLE};
use saml_broker::saml::{IdpMetadata, Verifier, VerifySettings};
use std::hint::black_box;
use std::time::Instant;

const IDP: &str = "https://adfs.example.com/adfs/services/trust";
const SP: &str = "https://broker.example.com/saml/metadata";
const ACS: &str = "https://broker.example.com/saml/acs";
const REQUEST_ID: &str = "_bench_request_1";
const ROLES: [&str; 3] = [
    "arn:aws:iam::111111111111:role/Dev,arn:aws:iam::111111111111:saml-provider/ADFS",
    "arn:aws:iam::222222222222:role/ReadOnly,arn:aws:iam::222222222222:saml-provider/ADFS",
    "arn:aws:iam::333333333333:role/Admin,arn:aws:iam::333333333333:saml-provider/ADFS",
];
const GROUPS: [&str; 3] = ["Developers", "AWS-ReadOnly", "Staff"];
const WARMUP: usize = 1_000;
const REPORT_EVERY: usize = 10_000;

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn main() {
    // `cargo bench` passes `--bench` (and any filter) to every bench binary; ignore them.
    let mode = "broker";
    let iterations: usize = std::env::var("MEMORY_ITERATIONS")
        .ok()
        .map(|v| v.replace('_', "").parse().unwrap())
        .unwrap_or(100_000);

    let key = SigningKey::generate("bench idp").unwrap();
    let now: DateTime<Utc> = Utc::now().trunc_subsecs(3);
    let sign = std::env::var("MEMORY_SIGN").unwrap_or_else(|_| "assertion".into());
    let mut spec = ResponseSpec::adfs(now, IDP, ACS, SP, "alice@example.com")
        .with_request(REQUEST_ID)
        .with_attribute(ATTR_ROLE, &ROLES)
        .with_attribute(ATTR_GROUP, &GROUPS);
    (spec.sign_assertion, spec.sign_response) = match sign.as_str() {
        "assertion" => (true, false),
        "response" => (false, true),
        "both" => (true, true),
        other => panic!("MEMORY_SIGN must be assertion, response or both, not {other:?}"),
    };
    let xml = spec.sign(&key).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&xml);
    if let Ok(dir) = std::env::var("MEMORY_WRITE_FIXTURE") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("response.xml"), &xml).unwrap();
        std::fs::write(dir.join("idp-cert.der"), key.cert_der().unwrap()).unwrap();
    }
    let metadata_xml = idp_metadata(
        IDP,
        "https://adfs.example.com/adfs/ls/",
        &[key.cert_base64().unwrap()],
    );
    let verifier = Verifier::new(
        VerifySettings {
            sp_entity_id: SP.into(),
            acs_url: ACS.into(),
            max_clock_skew: chrono::Duration::seconds(60),
            allow_sha1: false,
            allow_idp_initiated: false,
            max_bytes: 256 * 1024,
        },
        IdpMetadata::parse(&metadata_xml).unwrap(),
    );
    let run = || {
        let v = verifier
            .verify(black_box(&b64), Some(REQUEST_ID), now)
            .map_err(|r| r.error.to_string())
            .unwrap();
        black_box(v);
    };

    println!(
        "mode={mode} signed={sign} iterations={iterations} response_xml_bytes={} warmup={WARMUP}",
        xml.len()
    );
    for _ in 0..WARMUP {
        run();
    }
    let rss_start = rss_kb();
    println!("mode={mode} i=0 rss_kb={rss_start}");
    let started = Instant::now();
    for i in 1..=iterations {
        run();
        if i % REPORT_EVERY == 0 || i == iterations {
            println!("mode={mode} i={i} rss_kb={}", rss_kb());
        }
    }
    let elapsed = started.elapsed();
    let rss_end = rss_kb();
    let growth = rss_end as i64 - rss_start as i64;
    println!(
        "mode={mode} iterations={iterations} rss_start_kb={rss_start} rss_end_kb={rss_end} growth_kb={growth} per_call_bytes={:.1} signed={sign} elapsed_s={:.1}",
        growth as f64 * 1024.0 / iterations as f64,
        elapsed.as_secs_f64()
    );
}
