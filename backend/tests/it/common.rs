//! Test fixtures: an IdP key pair with metadata, a running broker, helpers
//! that drive the HTTP flow.

use chrono::{DateTime, Utc};
use saml_broker::clock::{Clock, FixedClock, SystemClock};
use saml_broker::config::Config;
use saml_broker::devidp::keys::idp_metadata;
use saml_broker::devidp::{ResponseSpec, SigningKey};
use saml_broker::saml::claims::{ATTR_GROUP, ATTR_ROLE};
use saml_broker::saml::{IdpMetadata, Verifier, VerifySettings};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

pub const IDP: &str = "https://adfs.example.com/adfs/services/trust";
pub const SP: &str = "https://broker.example.com/saml/metadata";
pub const ACS: &str = "https://broker.example.com/saml/acs";
pub const ROLE_DEV: &str =
    "arn:aws:iam::111111111111:role/Dev,arn:aws:iam::111111111111:saml-provider/ADFS";
pub const PROVIDER: &str = "arn:aws:iam::111111111111:saml-provider/ADFS";

/// RSA key generation is slow in debug builds; share two keys per test run.
pub fn idp_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate("test idp").unwrap())
}

pub fn other_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate("attacker").unwrap())
}

pub fn metadata_for(entity: &str, sso: &str, keys: &[&SigningKey]) -> String {
    let certs: Vec<String> = keys.iter().map(|k| k.cert_base64().unwrap()).collect();
    idp_metadata(entity, sso, &certs)
}

pub fn settings() -> VerifySettings {
    VerifySettings {
        sp_entity_id: SP.into(),
        acs_url: ACS.into(),
        max_clock_skew: chrono::Duration::seconds(60),
        allow_sha1: false,
        allow_idp_initiated: false,
        max_bytes: 256 * 1024,
    }
}

pub fn verifier_with(settings: VerifySettings) -> Verifier {
    let md = IdpMetadata::parse(&metadata_for(
        IDP,
        "https://adfs.example.com/adfs/ls/",
        &[idp_key()],
    ))
    .unwrap();
    Verifier::new(settings, md)
}

pub fn verifier() -> Verifier {
    verifier_with(settings())
}

/// A pinned instant for time-window tests.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A valid ADFS-style response spec answering request `_req1` at `t0`.
pub fn spec() -> ResponseSpec {
    ResponseSpec::adfs(t0(), IDP, ACS, SP, "alice@example.com")
        .with_request("_req1")
        .with_attribute(ATTR_ROLE, &[ROLE_DEV])
        .with_attribute(ATTR_GROUP, &["Developers"])
}

pub fn signed(spec: &ResponseSpec) -> String {
    spec.sign(idp_key()).unwrap()
}

/// Verify raw XML against the default verifier at t0, expecting request `_req1`.
pub fn check(xml: &str) -> Result<saml_broker::saml::VerifiedAssertion, String> {
    verifier()
        .verify_xml(xml, Some("_req1"), t0())
        .map_err(|r| r.error.code().to_string())
}

/// A DER certificate as PEM (for xmlsec1, the tests' signature oracle).
#[allow(dead_code)]
pub fn pem_certificate(der: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!("sb-it-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A broker listening on a loopback port with its own SQLite file.
#[allow(dead_code)]
pub struct TestApp {
    /// Where this instance listens (requests go here).
    pub base: String,
    /// The public URL (ACS, entity id); equals `base` unless several instances share one.
    pub public: String,
    pub state: saml_broker::web::AppState,
    pub dir: TempDir,
    pub idp_entity: String,
}

pub struct AppOptions {
    pub extra_toml: String,
    pub idp_entity: String,
    pub idp_sso: String,
    pub metadata: Option<String>,
    pub clock: Option<Arc<FixedClock>>,
    pub idp_initiated: bool,
    /// None: Cognito mode against moto with a fresh identity pool.
    pub aws: Option<saml_broker::config::AwsConfig>,
    /// None: a SQLite file in the app's temporary directory.
    pub storage_url: Option<String>,
    /// None: the address the app listens on.
    pub public_url: Option<String>,
    /// None: a key file generated in the temporary directory.
    pub session_key: Option<String>,
    /// A store of the test's own (e.g. DynamoDB tables on moto); overrides `storage_url`.
    pub store: Option<saml_broker::store::Store>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            extra_toml: String::new(),
            idp_entity: IDP.into(),
            idp_sso: "https://adfs.example.com/adfs/ls/".into(),
            metadata: None,
            clock: None,
            idp_initiated: false,
            aws: None,
            storage_url: None,
            public_url: None,
            session_key: None,
            store: None,
        }
    }
}

impl TestApp {
    pub async fn spawn(opts: AppOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::spawn_on(listener, opts).await
    }

    pub async fn spawn_at(addr: std::net::SocketAddr, opts: AppOptions) -> Self {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        Self::spawn_on(listener, opts).await
    }

    pub async fn spawn_on(listener: tokio::net::TcpListener, opts: AppOptions) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .try_init();
        let dir = TempDir::new();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let md = opts
            .metadata
            .unwrap_or_else(|| metadata_for(&opts.idp_entity, &opts.idp_sso, &[idp_key()]));
        std::fs::write(dir.0.join("idp.xml"), md).unwrap();
        let public = opts.public_url.clone().unwrap_or_else(|| base.clone());
        let storage = opts
            .storage_url
            .clone()
            .unwrap_or_else(|| "sqlite://broker.db".into());
        let key = opts
            .session_key
            .as_ref()
            .map(|k| format!("[session]\nkey = \"{k}\"\n"))
            .unwrap_or_default();
        let toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\npublic_url = \"{public}\"\n[idp]\nmetadata_file = \"idp.xml\"\nallow_idp_initiated = {}\n[storage]\nurl = \"{storage}\"\n[admin]\ngroups = [\"AWS-Broker-Admins\"]\n{key}{}",
            opts.idp_initiated, opts.extra_toml
        );
        let mut cfg =
            Config::from_toml_str(&toml, &dir.0.join("broker.toml"), std::iter::empty()).unwrap();
        cfg.aws = match opts.aws {
            Some(a) => a,
            None => crate::moto::aws_config(
                saml_broker::config::AwsMode::Cognito,
                Some(crate::moto::identity_pool(PROVIDER).await),
            ),
        };
        let clock: Arc<dyn Clock> = match opts.clock {
            Some(c) => c,
            None => Arc::new(SystemClock),
        };
        let mut app = saml_broker::startup::Builder::new(cfg).clock(clock);
        if let Some(store) = opts.store {
            app = app.store(store);
        }
        let state = app.start().await.unwrap();
        let s2 = state.clone();
        tokio::spawn(async move { saml_broker::startup::run(listener, s2).await });
        Self {
            base,
            public,
            state,
            dir,
            idp_entity: opts.idp_entity,
        }
    }

    pub fn acs(&self) -> String {
        format!("{}/saml/acs", self.public)
    }

    pub fn entity(&self) -> String {
        format!("{}/saml/metadata", self.public)
    }

    /// A valid response for this app, answering `request_id` (None: unsolicited).
    pub fn spec(&self, name_id: &str, request_id: Option<&str>) -> ResponseSpec {
        let mut s = ResponseSpec::adfs(
            Utc::now(),
            &self.idp_entity,
            &self.acs(),
            &self.entity(),
            name_id,
        )
        .with_attribute(ATTR_ROLE, &[ROLE_DEV])
        .with_attribute(ATTR_GROUP, &["Developers"]);
        if let Some(r) = request_id {
            s = s.with_request(r);
        }
        s
    }

    /// Start an SP-initiated login; returns (request id, RelayState) read from the redirect.
    pub async fn start_login(
        &self,
        client: &reqwest::Client,
        return_to: Option<&str>,
    ) -> (String, String) {
        let mut url = format!("{}/saml/login", self.base);
        if let Some(r) = return_to {
            url = format!("{url}?return_to={}", urlencode(r));
        }
        let resp = client.get(url).send().await.unwrap();
        assert_eq!(resp.status(), 302);
        let loc = resp.headers()["location"].to_str().unwrap().to_string();
        let u = url::Url::parse(&loc).unwrap();
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        let xml = saml_broker::saml::authn::decode_redirect_request(&q["SAMLRequest"]).unwrap();
        let req = saml_broker::saml::xml::parse(&xml).unwrap();
        (req.attr("ID").unwrap().to_string(), q["RelayState"].clone())
    }

    /// SP-initiated sign-in as `name_id` with exactly these Role values; returns the ACS answer.
    pub async fn sign_in(
        &self,
        client: &reqwest::Client,
        name_id: &str,
        roles: &[&str],
    ) -> reqwest::Response {
        self.sign_in_with_groups(client, name_id, roles, &["Developers"])
            .await
    }

    /// Like [`TestApp::sign_in`], with these group claims instead of "Developers".
    pub async fn sign_in_with_groups(
        &self,
        client: &reqwest::Client,
        name_id: &str,
        roles: &[&str],
        groups: &[&str],
    ) -> reqwest::Response {
        let (rid, relay) = self.start_login(client, None).await;
        let mut spec = self.spec(name_id, Some(&rid));
        spec.attributes
            .retain(|(n, _)| n != ATTR_ROLE && n != ATTR_GROUP);
        if !roles.is_empty() {
            spec = spec.with_attribute(ATTR_ROLE, roles);
        }
        if !groups.is_empty() {
            spec = spec.with_attribute(ATTR_GROUP, groups);
        }
        self.post_acs(client, &spec.sign_base64(idp_key()).unwrap(), Some(&relay))
            .await
    }

    pub async fn get_json(&self, client: &reqwest::Client, path: &str) -> (u16, serde_json::Value) {
        let r = client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn post_acs(
        &self,
        client: &reqwest::Client,
        saml_b64: &str,
        relay: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![("SAMLResponse", saml_b64.to_string())];
        if let Some(r) = relay {
            form.push(("RelayState", r.to_string()));
        }
        client
            .post(format!("{}/saml/acs", self.base))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The value of a hidden form input in an HTML page.
pub fn form_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let start = html[at..].find("value=\"")? + at + "value=\"".len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&#34;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#x2F;", "/")
            .replace("&#43;", "+")
            .replace("&#x3D;", "=")
            .replace("&#61;", "=")
            .replace("&amp;", "&"),
    )
}

/// A loopback listener that records whether anything connected to it.
pub struct Tripwire {
    pub port: u16,
    hits: Arc<std::sync::atomic::AtomicUsize>,
}

impl Tripwire {
    pub fn new() -> Self {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                if s.is_ok() {
                    h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        Self { port, hits }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/x", self.port)
    }

    pub fn connections(&self) -> usize {
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}
