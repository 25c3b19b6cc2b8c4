//! The sign-in flows driven directly (`saml_broker::login`): no router, no
//! cookies, no moto. An in-memory store and the shared fake exchange
//! (`common::FakeExchange`) stand in for the database and AWS; the SAML
//! responses are really signed and verified.

use crate::common::*;
use chrono::{Duration, Utc};
use saml_broker::audit::{Filter, Record};
use saml_broker::clock::{Clock, FixedClock};
use saml_broker::config::{AwsConfig, AwsMode, Config};
use saml_broker::exchange::Exchange;
use saml_broker::login::{AcsInput, ChooseError, Client, LoginError, Next, RefreshError};
use saml_broker::saml::claims::{ATTR_GROUP, ATTR_ROLE};
use saml_broker::store::Store;
use saml_broker::web::AppState;
use std::sync::Arc;

const ROLE_RO: &str =
    "arn:aws:iam::222222222222:role/ReadOnly,arn:aws:iam::222222222222:saml-provider/ADFS";

struct Flows {
    state: AppState,
    exchange: Arc<FakeExchange>,
    clock: Arc<FixedClock>,
    _dir: TempDir,
}

const PUBLIC: &str = "https://broker.example.com";

async fn flows() -> Flows {
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("idp.xml"),
        metadata_for(IDP, "https://adfs.example.com/adfs/ls/", &[idp_key()]),
    )
    .unwrap();
    let toml = format!(
        "[server]\npublic_url = \"{PUBLIC}\"\n[idp]\nmetadata_file = \"idp.xml\"\nallow_idp_initiated = true\n[storage]\nurl = \"sqlite://unused.db\"\n[admin]\ngroups = [\"AWS-Broker-Admins\"]\n[session]\nkey = \"{}\"\n",
        b64(&"k".repeat(32))
    );
    let mut cfg = Config::from_toml_str(&toml, &dir.0.join("broker.toml"), std::iter::empty())
        .unwrap_or_else(|e| panic!("{e:#}"));
    cfg.aws = AwsConfig {
        mode: AwsMode::StsSaml,
        ..cfg.aws
    };
    let exchange = Arc::new(FakeExchange::new(AwsMode::StsSaml));
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let state = saml_broker::startup::Builder::new(cfg)
        .clock(clock.clone() as Arc<dyn Clock>)
        .exchange(exchange.clone() as Arc<dyn Exchange>)
        .store(Store::memory())
        .build()
        .await
        .unwrap();
    Flows {
        state,
        exchange,
        clock,
        _dir: dir,
    }
}

fn client() -> Client {
    Client {
        request_id: "req-1".into(),
        ip: Some("192.0.2.9".into()),
        user_agent: Some("test".into()),
    }
}

impl Flows {
    fn response(&self, roles: &[&str], request_id: Option<&str>) -> String {
        let mut s = saml_broker::devidp::ResponseSpec::adfs(
            self.clock.now(),
            IDP,
            &format!("{PUBLIC}/saml/acs"),
            &format!("{PUBLIC}/saml/metadata"),
            "alice@example.com",
        )
        .with_attribute(ATTR_ROLE, roles)
        .with_attribute(ATTR_GROUP, &["Developers"]);
        if let Some(r) = request_id {
            s = s.with_request(r);
        }
        s.sign_base64(idp_key()).unwrap()
    }

    async fn trail(&self) -> Vec<Record> {
        let mut all = self
            .state
            .audit
            .page(&Filter::default(), None, 1000)
            .await
            .unwrap();
        all.reverse();
        all
    }

    async fn events(&self) -> Vec<String> {
        self.trail()
            .await
            .into_iter()
            .map(|r| r.event.event)
            .collect()
    }
}

fn input(saml: &str) -> AcsInput {
    AcsInput {
        saml_response: saml.to_string(),
        relay_state: None,
        browser_nonce: None,
    }
}

#[tokio::test]
async fn several_roles_lead_to_the_picker_and_a_replay_is_refused() {
    let f = flows().await;
    let c = client();
    let ctx = f.state.login.ctx(&c);
    let saml = f.response(&[ROLE_DEV, ROLE_RO], None);
    let ok = ctx.accept(input(&saml)).await.unwrap();
    assert!(matches!(ok.next, Next::ChooseRole), "{:?}", ok.next);
    assert_eq!(ok.session.subject, "alice@example.com");
    assert_eq!(ok.session.allowed.len(), 2);
    assert!(ok.session.current.is_none());
    assert_eq!(f.exchange.calls(), 0, "no AWS call");
    let err = ctx.accept(input(&saml)).await.unwrap_err();
    assert!(matches!(err, LoginError::Replay), "{err:?}");
    let trail = f.trail().await;
    let names: Vec<_> = trail.iter().map(|r| r.event.event.as_str()).collect();
    assert_eq!(names, ["login.succeeded", "login.failed"]);
    assert_eq!(trail[0].event.detail["idp_initiated"], true);
    assert_eq!(trail[0].event.request_id.as_deref(), Some("req-1"));
    assert_eq!(trail[0].event.source_ip.as_deref(), Some("192.0.2.9"));
    assert_eq!(trail[1].event.detail["code"], "replay");
    assert!(f.state.audit.verify().await.unwrap().broken.is_none());
}

#[tokio::test]
async fn one_role_is_issued_at_once_and_a_failure_still_starts_the_session() {
    let f = flows().await;
    let c = client();
    let ctx = f.state.login.ctx(&c);
    let ok = ctx
        .accept(input(&f.response(&[ROLE_DEV], None)))
        .await
        .unwrap();
    assert!(
        matches!(&ok.next, Next::Go(to) if to == "/"),
        "{:?}",
        ok.next
    );
    let cur = ok.session.current.as_ref().unwrap();
    assert_eq!(cur.access_key_id, "ASIAFAKE000000000000");
    assert_eq!(
        f.events().await,
        ["login.succeeded", "role.selected", "credentials.issued"]
    );
    // AWS refuses: the sign-in still stands, the failure is audited.
    f.exchange.set_failing(true);
    let ok = ctx
        .accept(input(&f.response(&[ROLE_DEV], None)))
        .await
        .unwrap();
    assert!(matches!(ok.next, Next::IssueFailed(_)), "{:?}", ok.next);
    assert!(ok.session.current.is_none());
    let trail = f.trail().await;
    let last = trail.last().unwrap();
    assert_eq!(last.event.event, "credentials.failed");
    assert_eq!(last.event.detail["code"], "access_denied");
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_audited() {
    let f = flows().await;
    let c = client();
    let saml = f.response(&[ROLE_DEV], None);
    // Flip one character inside the signed XML.
    let xml = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &saml).unwrap(),
    )
    .unwrap()
    .replacen("alice@example.com", "mallory@example.com", 1);
    let err = f
        .state
        .login
        .ctx(&c)
        .accept(input(&b64(&xml)))
        .await
        .unwrap_err();
    assert!(matches!(err, LoginError::Refused(_)), "{err:?}");
    let trail = f.trail().await;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].event.event, "login.failed");
}

#[tokio::test]
async fn an_sp_initiated_sign_in_comes_back_to_its_page_from_its_browser_only() {
    let f = flows().await;
    let c = client();
    let started = f.state.login.start(Some("/app/"), None).await.unwrap();
    assert!(started
        .redirect_url
        .starts_with("https://adfs.example.com/adfs/ls/?SAMLRequest="));
    assert!(matches!(
        f.state
            .login
            .start(Some("https://evil.example/"), None)
            .await,
        Err(LoginError::BadReturnTo)
    ));
    // The AuthnRequest's ID and RelayState, as the IdP would send them back.
    let url = url::Url::parse(&started.redirect_url).unwrap();
    let relay = url
        .query_pairs()
        .find(|(k, _)| k == "RelayState")
        .unwrap()
        .1
        .to_string();
    let request_id = request_id_of(&started.redirect_url);
    let saml = f.response(&[ROLE_DEV], Some(&request_id));
    let ctx = f.state.login.ctx(&c);
    // From another browser (no nonce): the pending request is not used.
    let err = ctx
        .accept(AcsInput {
            saml_response: saml.clone(),
            relay_state: Some(relay.clone()),
            browser_nonce: Some("someone-else".into()),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, LoginError::Refused(_)), "{err:?}");
    let ok = ctx
        .accept(AcsInput {
            saml_response: f.response(&[ROLE_DEV], Some(&request_id)),
            relay_state: Some(relay),
            browser_nonce: Some(started.browser_nonce),
        })
        .await
        .unwrap();
    assert!(
        matches!(&ok.next, Next::Go(to) if to == "/app/"),
        "{:?}",
        ok.next
    );
}

/// The ID of the AuthnRequest in a redirect URL (deflated, base64).
fn request_id_of(redirect: &str) -> String {
    use std::io::Read;
    let url = url::Url::parse(redirect).unwrap();
    let req = url
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .to_string();
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, req).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&raw[..])
        .read_to_string(&mut xml)
        .unwrap();
    let start = xml.find("ID=\"").unwrap() + 4;
    xml[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn choosing_a_role_checks_it_and_renewal_ends_with_the_assertion() {
    let f = flows().await;
    let c = client();
    let ctx = f.state.login.ctx(&c);
    let mut data = ctx
        .accept(input(&f.response(&[ROLE_DEV, ROLE_RO], None)))
        .await
        .unwrap()
        .session;
    let err = ctx
        .choose(&mut data, "arn:aws:iam::999999999999:role/Admin", "api")
        .await
        .unwrap_err();
    assert!(matches!(err, ChooseError::NotAllowed));
    assert!(matches!(
        ctx.refresh(&mut data, true).await,
        Err(RefreshError::NoRole)
    ));
    let ro = "arn:aws:iam::222222222222:role/ReadOnly";
    ctx.choose(&mut data, ro, "picker").await.unwrap();
    assert_eq!(data.role_arn(), Some(ro));
    let fresh = ctx.refresh(&mut data, true).await.unwrap();
    assert!(!fresh.renewed, "far from expiry: no renewal");
    assert_eq!(fresh.credentials.access_key_id, "ASIAFAKE000000000000");
    // Past the credentials' expiry and the assertion's: the session is over.
    f.clock.set(Utc::now() + Duration::hours(2));
    assert!(matches!(
        ctx.refresh(&mut data, false).await,
        Err(RefreshError::CsrfNeeded)
    ));
    let err = ctx.refresh(&mut data, true).await.unwrap_err();
    assert!(
        matches!(&err, RefreshError::Expired { role_arn } if role_arn == ro),
        "{err:?}"
    );
    let names = f.events().await;
    assert_eq!(
        names,
        [
            "login.succeeded",
            "role.selected",
            "role.selected",
            "credentials.issued",
            "session.expired"
        ]
    );
    let trail = f.trail().await;
    assert_eq!(trail[1].event.outcome, saml_broker::audit::Outcome::Failure);
    ctx.logout(&data).await.unwrap();
    assert_eq!(f.events().await.last().map(String::as_str), Some("logout"));
}
