//! Test fixtures: an IdP key pair with metadata, a broker ([`TestApp`],
//! with a [`FakeExchange`] and the in-memory store unless a test opts into
//! the real parts), helpers that drive the HTTP flow.

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

/// A broker built like `serve` builds one. [`TestApp::spawn`] serves it on a
/// loopback port (real HTTP, for reqwest clients); [`TestApp::in_process`]
/// has no listener and answers through the router itself ([`Browser`]).
/// By default it has a [`FakeExchange`] and an in-memory store: a test that
/// needs moto, a SQLite file or PostgreSQL says so with [`AppOptions::aws`]
/// and [`AppOptions::store`].
#[allow(dead_code)]
pub struct TestApp {
    /// Where this instance listens (requests go here).
    pub base: String,
    /// The public URL (ACS, entity id); equals `base` unless several instances share one.
    pub public: String,
    pub state: saml_broker::web::AppState,
    pub dir: TempDir,
    pub idp_entity: String,
    /// The fake exchange, when the app has one ([`Aws::Fake`]).
    pub fake: Option<Arc<FakeExchange>>,
    /// The router in-process requests go through (shares the rate limiter).
    pub router: axum::Router,
}

/// What answers the broker's AWS calls.
#[allow(dead_code)]
pub enum Aws {
    /// A [`FakeExchange`]: no AWS calls, credentials shaped like moto's.
    Fake,
    /// Cognito mode against moto, with a fresh identity pool.
    Moto,
    /// The real exchange from this configuration (usually moto's).
    Real(Box<saml_broker::config::AwsConfig>),
}

/// Where the broker keeps its state and audit trail.
#[allow(dead_code)]
pub enum Backing {
    /// `Store::memory()`: the same rules as SQL, no file.
    Memory,
    /// A SQLite file (`broker.db`) in the app's temporary directory.
    Sqlite,
    /// This `storage.url` (another app's SQLite file, PostgreSQL).
    Url(String),
    /// A store of the test's own (e.g. DynamoDB tables on moto).
    Store(saml_broker::store::Store),
}

pub struct AppOptions {
    pub extra_toml: String,
    pub idp_entity: String,
    pub idp_sso: String,
    pub metadata: Option<String>,
    pub clock: Option<Arc<FixedClock>>,
    pub idp_initiated: bool,
    /// Default: a fake exchange.
    pub aws: Aws,
    /// Default: the in-memory store.
    pub store: Backing,
    /// None: the address the app listens on.
    pub public_url: Option<String>,
    /// None: a key file generated in the temporary directory.
    pub session_key: Option<String>,
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
            aws: Aws::Fake,
            store: Backing::Memory,
            public_url: None,
            session_key: None,
        }
    }
}

/// The base URL of an app with no listener.
pub const IN_PROCESS_BASE: &str = "http://broker.test";

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
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Self::build(base, opts).await;
        let s2 = app.state.clone();
        tokio::spawn(async move { saml_broker::startup::run(listener, s2).await });
        app
    }

    /// A broker with no listener: requests go through its router in this
    /// task ([`TestApp::browser`]). No background tasks run.
    #[allow(dead_code)]
    pub async fn in_process(opts: AppOptions) -> Self {
        Self::build(IN_PROCESS_BASE.into(), opts).await
    }

    async fn build(base: String, opts: AppOptions) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .try_init();
        let dir = TempDir::new();
        let md = opts
            .metadata
            .unwrap_or_else(|| metadata_for(&opts.idp_entity, &opts.idp_sso, &[idp_key()]));
        std::fs::write(dir.0.join("idp.xml"), md).unwrap();
        let public = opts.public_url.clone().unwrap_or_else(|| base.clone());
        let (storage, store) = match opts.store {
            Backing::Memory => (
                "sqlite://broker.db".to_string(),
                Some(saml_broker::store::Store::memory()),
            ),
            Backing::Sqlite => ("sqlite://broker.db".to_string(), None),
            Backing::Url(url) => (url, None),
            Backing::Store(s) => ("sqlite://broker.db".to_string(), Some(s)),
        };
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
        let mut fake = None;
        cfg.aws = match opts.aws {
            Aws::Fake => {
                let f = Arc::new(FakeExchange::new(saml_broker::config::AwsMode::Cognito));
                fake = Some(f.clone());
                FakeExchange::aws_config()
            }
            Aws::Moto => crate::moto::aws_config(
                saml_broker::config::AwsMode::Cognito,
                Some(crate::moto::identity_pool(PROVIDER).await),
            ),
            Aws::Real(a) => *a,
        };
        let clock: Arc<dyn Clock> = match opts.clock {
            Some(c) => c,
            None => Arc::new(SystemClock),
        };
        let mut app = saml_broker::startup::Builder::new(cfg).clock(clock);
        if let Some(store) = store {
            app = app.store(store);
        }
        if let Some(f) = &fake {
            app = app.exchange(f.clone() as Arc<dyn saml_broker::exchange::Exchange>);
        }
        let state = app.start().await.unwrap();
        let router = saml_broker::web::build_router(state.clone());
        Self {
            base,
            public,
            state,
            dir,
            idp_entity: opts.idp_entity,
            fake,
            router,
        }
    }

    /// The same AWS as this app, for a second instance beside it: the fake
    /// (each instance has its own) or this app's AWS configuration.
    #[allow(dead_code)]
    pub fn same_aws(&self) -> Aws {
        match self.fake {
            Some(_) => Aws::Fake,
            None => Aws::Real(Box::new(self.state.config.aws.clone())),
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
        request_and_relay(resp.headers()["location"].to_str().unwrap())
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
        let spec = self.spec_with(name_id, Some(&rid), roles, groups);
        self.post_acs(client, &spec.sign_base64(idp_key()).unwrap(), Some(&relay))
            .await
    }

    /// [`TestApp::spec`] with exactly these Role and group values (none: no attribute).
    pub fn spec_with(
        &self,
        name_id: &str,
        request_id: Option<&str>,
        roles: &[&str],
        groups: &[&str],
    ) -> ResponseSpec {
        let mut spec = self.spec(name_id, request_id);
        spec.attributes
            .retain(|(n, _)| n != ATTR_ROLE && n != ATTR_GROUP);
        if !roles.is_empty() {
            spec = spec.with_attribute(ATTR_ROLE, roles);
        }
        if !groups.is_empty() {
            spec = spec.with_attribute(ATTR_GROUP, groups);
        }
        spec
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

/// AWS as the broker sees it, with no AWS: counts calls, fails when told
/// to, and otherwise issues credentials shaped like moto's (tests/moto_broker.py):
/// an `ASIA` key id of 20 characters, a 40-character secret, a session token,
/// and the principal `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` of the
/// chosen role. In Cognito mode the session is `CognitoIdentityCredentials`
/// and lives 90 seconds (moto's lifetime); in STS mode it is named after the
/// NameID and lives the requested duration.
pub struct FakeExchange {
    calls: std::sync::atomic::AtomicUsize,
    fail: std::sync::atomic::AtomicBool,
    mode: saml_broker::config::AwsMode,
}

#[allow(dead_code)]
impl FakeExchange {
    pub fn new(mode: saml_broker::config::AwsMode) -> Self {
        Self {
            calls: Default::default(),
            fail: Default::default(),
            mode,
        }
    }

    /// How many exchanges were asked for.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Refuse (AccessDenied) from now on, or stop refusing.
    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, std::sync::atomic::Ordering::SeqCst);
    }

    /// The `[aws]` of an app with a fake exchange: Cognito mode with a pool
    /// id, and an endpoint nothing listens on, so a call that bypassed the
    /// fake would fail at once instead of reaching AWS.
    pub fn aws_config() -> saml_broker::config::AwsConfig {
        saml_broker::config::AwsConfig {
            endpoint_url: Some("http://127.0.0.1:9".parse().unwrap()),
            mode: saml_broker::config::AwsMode::Cognito,
            identity_pool_id: Some("us-east-1:00000000-0000-0000-0000-00000000fake".into()),
            timeout: std::time::Duration::from_secs(1),
            max_attempts: 1,
            ..Default::default()
        }
    }
}

/// The NameID of a base64 SAMLResponse (STS's RoleSessionName when the IdP sends none).
fn name_id_of(saml_b64: &str) -> Option<String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(saml_b64)
        .ok()?;
    let xml = String::from_utf8(raw).ok()?;
    let at = xml.find("NameID")?;
    let start = xml[at..].find('>')? + at + 1;
    let end = xml[start..].find('<')? + start;
    Some(xml[start..end].trim().to_string())
}

impl saml_broker::exchange::Exchange for FakeExchange {
    fn exchange<'a>(
        &'a self,
        req: &'a saml_broker::exchange::ExchangeRequest,
    ) -> saml_broker::exchange::BoxFuture<
        'a,
        Result<saml_broker::exchange::Issued, saml_broker::exchange::ExchangeError>,
    > {
        use saml_broker::config::{AwsMode, Secret};
        use saml_broker::exchange::{Credentials, ErrorKind, ExchangeError, Issued};
        Box::pin(async move {
            let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (call, session, lifetime) = match self.mode {
                AwsMode::Cognito => (
                    "cognito-identity:GetCredentialsForIdentity",
                    "CognitoIdentityCredentials".to_string(),
                    90,
                ),
                AwsMode::StsSaml => (
                    "sts:AssumeRoleWithSAML",
                    name_id_of(req.saml_response.expose()).unwrap_or_else(|| "saml-session".into()),
                    i64::from(req.duration_seconds),
                ),
            };
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(ExchangeError::new(
                    ErrorKind::AccessDenied,
                    call,
                    "not authorized",
                ));
            }
            let role = req.role.role.as_str();
            let account = role.split(':').nth(4).unwrap_or("123456789012");
            let name = role.rsplit('/').next().unwrap_or(role);
            Ok(Issued {
                credentials: Credentials {
                    access_key_id: format!("ASIAFAKE{n:012}"),
                    secret_access_key: Secret::new(format!("fakeSecretAccessKey{n:021}")),
                    session_token: Secret::new(format!("FQoGZXIvYXdzEFakeSessionToken{n:032}")),
                    expiration: Utc::now() + chrono::Duration::seconds(lifetime),
                },
                principal_arn: format!("arn:aws:sts::{account}:assumed-role/{name}/{session}"),
                duration_seconds: req.duration_seconds,
                duration_fallback: false,
            })
        })
    }

    fn mode(&self) -> &'static str {
        self.mode.as_str()
    }
}

/// The AuthnRequest's ID and the RelayState in a redirect to the IdP.
pub fn request_and_relay(location: &str) -> (String, String) {
    let u = url::Url::parse(location).unwrap();
    let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
    let xml = saml_broker::saml::authn::decode_redirect_request(&q["SAMLRequest"]).unwrap();
    let req = saml_broker::saml::xml::parse(&xml).unwrap();
    (req.attr("ID").unwrap().to_string(), q["RelayState"].clone())
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
