//! Interoperability: responses signed by Auth0's `samlp` (node + xml-crypto),
//! running as a real process (tests/idps/samlp), are accepted; the same IdP
//! signing with a key that is not in our metadata is refused.

use crate::common::*;
use saml_broker::devidp::SigningKey;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub(crate) const SAMLP_ISSUER: &str = "urn:samlp-test:idp";

pub(crate) struct Samlp {
    child: Child,
    pub(crate) base: String,
    _dir: TempDir,
}

impl Drop for Samlp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn samlp_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/idps/samlp")
}

pub(crate) fn start_samlp(key: &SigningKey, app: &TestApp) -> Samlp {
    start_samlp_for(key, &app.entity(), &app.acs())
}

/// Start the samlp IdP for a broker at this entity id and ACS URL.
pub(crate) fn start_samlp_for(key: &SigningKey, entity: &str, acs: &str) -> Samlp {
    let dir = TempDir::new();
    let cert = dir.0.join("cert.pem");
    let keyf = dir.0.join("key.pem");
    std::fs::write(&cert, key.cert_pem().unwrap()).unwrap();
    std::fs::write(&keyf, key.key_pem().unwrap()).unwrap();
    let root = samlp_dir();
    assert!(
        root.join("node_modules/samlp").exists(),
        "tests/idps/samlp/node_modules is missing: run `npm ci --prefix tests/idps/samlp` (the README test command does)"
    );
    let mut child = Command::new("node")
        .arg(root.join("server.js"))
        .args(["--port", "0", "--issuer", SAMLP_ISSUER])
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&keyf)
        .args(["--audience", entity, "--acs", acs])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node must be installed");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("LISTENING ")
        .expect("samlp harness prints LISTENING <port>");
    Samlp {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

async fn samlp_app() -> TestApp {
    TestApp::spawn(AppOptions {
        idp_entity: SAMLP_ISSUER.into(),
        idp_sso: "http://127.0.0.1:9/sso".into(),
        ..Default::default()
    })
    .await
}

async fn samlp_response(idp: &Samlp, user: &str, request_id: &str, relay: &str) -> String {
    let html = reqwest::get(format!(
        "{}/sso?user={user}&InResponseTo={request_id}&RelayState={relay}",
        idp.base
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    form_value(&html, "SAMLResponse").expect("samlp answered with a SAMLResponse form")
}

#[tokio::test]
async fn a_response_signed_by_samlp_is_accepted() {
    let app = samlp_app().await;
    let idp = start_samlp(idp_key(), &app);
    let c = client();
    let (rid, relay) = app.start_login(&c, None).await;
    let saml = samlp_response(&idp, "carol", &rid, &relay).await;
    let r = app.post_acs(&c, &saml, Some(&relay)).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let s: serde_json::Value = c
        .get(format!("{}/api/session", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["subject"], "carol@example.com");
    let roles: Vec<&str> = s["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role_name"].as_str().unwrap())
        .collect();
    assert_eq!(roles.len(), 3, "{s}");
    assert!(s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g == "AWS-Broker-Admins"));
    assert_eq!(s["is_admin"], true);
}

#[tokio::test]
async fn samlp_signing_with_an_untrusted_key_is_refused() {
    let app = samlp_app().await;
    let idp = start_samlp(other_key(), &app);
    let c = client();
    let (rid, relay) = app.start_login(&c, None).await;
    let saml = samlp_response(&idp, "alice", &rid, &relay).await;
    let r = app.post_acs(&c, &saml, Some(&relay)).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("could not be verified"));
}
