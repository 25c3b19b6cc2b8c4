//! The running binary's text logs: values taken from a request cannot forge
//! log lines, and a log file gets no colour codes.

use crate::common::{metadata_for, TempDir, IDP};
use base64::Engine;
use std::time::{Duration, Instant};

const MARK: &str = "INJECTED";

/// An unsigned SAMLResponse whose values carry line breaks (as character
/// references, which survive XML attribute normalisation) followed by text
/// that would look like a log entry of its own.
fn hostile_response(acs: &str, status: &str, algorithm: &str) -> String {
    format!(
        r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="2024-01-01T00:00:00Z" Destination="{acs}">
<saml:Issuer>{IDP}&#13;&#10;{MARK} issuer</saml:Issuer>
<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>
<saml:Assertion ID="_a1" Version="2.0" IssueInstant="2024-01-01T00:00:00Z">
<saml:Issuer>{IDP}</saml:Issuer>
<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<ds:SignatureMethod Algorithm="{algorithm}"/>
<ds:Reference URI="#_a1"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference>
</ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>
<saml:Subject><saml:NameID>eve&#10;{MARK} subject</saml:NameID></saml:Subject>
</saml:Assertion></samlp:Response>"##
    )
}

fn read_log(path: &std::path::Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

#[tokio::test]
async fn request_values_cannot_start_a_log_line() {
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("idp.xml"),
        metadata_for(
            IDP,
            "https://adfs.example.com/adfs/ls/",
            &[crate::common::idp_key()],
        ),
    )
    .unwrap();
    std::fs::write(
        dir.0.join("broker.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://127.0.0.1\"\nlog_format = \"text\"\n\
             [idp]\nmetadata_file = \"idp.xml\"\n\
             [storage]\nurl = \"sqlite://{}\"\n\
             [aws]\nendpoint_url = \"http://127.0.0.1:9\"\n",
            dir.0.join("broker.db").display()
        ),
    )
    .unwrap();
    let log_path = dir.0.join("service.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_saml-broker"))
        .arg("serve")
        .arg("--config")
        .arg(dir.0.join("broker.toml"))
        .env("RUST_LOG", "info")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_LAMBDA_LOG_FORMAT")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("the broker binary starts");

    // The listening address, from the log.
    let started = Instant::now();
    let addr = loop {
        let text = read_log(&log_path);
        if let Some(a) = text
            .lines()
            .find(|l| l.contains("saml-broker listening"))
            .and_then(|l| l.split("listen=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
        {
            break a.to_string();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the broker exited ({status}):\n{text}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the broker did not start:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let acs = "http://127.0.0.1/saml/acs";
    let good_alg = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    let bad_status =
        format!("urn:oasis:names:tc:SAML:2.0:status:Responder&#13;&#10;{MARK} status&#x2028;{MARK} ls&#133;{MARK} nel");
    let bad_alg = format!("{good_alg}&#10;{MARK} algorithm&#13;{MARK} cr");
    let client = reqwest::Client::new();
    for xml in [
        hostile_response(acs, &bad_status, good_alg),
        hostile_response(acs, "urn:oasis:names:tc:SAML:2.0:status:Success", &bad_alg),
        hostile_response(acs, &bad_status, &bad_alg),
    ] {
        let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
        let resp = client
            .post(format!("http://{addr}/saml/acs"))
            .form(&[
                ("SAMLResponse", b64.as_str()),
                ("RelayState", &format!("x\r\n{MARK} relay")),
            ])
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
    // Wait for the refusals to be logged.
    let started = Instant::now();
    let text = loop {
        let text = read_log(&log_path);
        if text.matches("sign-in refused").count() >= 3 {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "refusals not logged:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.kill().await;

    // The hostile values did reach the log, escaped...
    assert!(text.contains(&format!(r"\r\n{MARK} status")), "{text}");
    assert!(text.contains(&format!(r"\n{MARK} algorithm")), "{text}");
    // ...and none of them starts a line or hides a line break.
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with(MARK),
            "forged log line {line:?} in:\n{text}"
        );
        assert!(
            !line
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')),
            "raw control character in {line:?}"
        );
    }
    // Not a terminal: no colour codes.
    assert!(
        !text.contains('\u{1b}'),
        "ANSI escape in a log file:\n{text}"
    );
}
