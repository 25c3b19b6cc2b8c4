//! The development IdP's HTTP side: metadata, a login form, and a POST that
//! answers with an auto-submitting form carrying a signed SAMLResponse.

use super::keys::{idp_metadata, SigningKey};
use super::response::ResponseSpec;
use crate::saml::authn::decode_redirect_request;
use crate::saml::claims;
use crate::saml::xml;
use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const WARNING: &str = "\n\
==========================================================================\n\
  saml-broker dev-idp is a DEVELOPMENT identity provider.\n\
  Its users and passwords come from a plain file and anyone who can reach\n\
  it can sign in as them. NEVER trust it from a production broker.\n\
==========================================================================\n";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevUser {
    pub username: String,
    pub password: String,
    pub name_id: String,
    pub display_name: Option<String>,
    pub session_name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Role attribute values, `role_arn,provider_arn` (or the reverse).
    #[serde(default)]
    pub roles: Vec<String>,
    pub session_duration: Option<u32>,
    #[serde(default)]
    pub principal_tags: BTreeMap<String, String>,
    pub source_identity: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    users: Vec<DevUser>,
}

pub fn load_users(path: &Path) -> anyhow::Result<Vec<DevUser>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read users file {}: {e}", path.display()))?;
    let f: UsersFile = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("users file {} is not valid: {e}", path.display()))?;
    Ok(f.users)
}

#[derive(Debug, Clone)]
pub struct DevIdpOptions {
    pub listen: String,
    pub public_url: String,
    pub users_file: PathBuf,
    pub state_dir: PathBuf,
    pub sp_acs_url: String,
    pub sp_entity_id: String,
    pub metadata_out: Option<PathBuf>,
}

pub struct DevIdp {
    pub entity_id: String,
    pub sso_url: String,
    pub key: SigningKey,
    pub users: Vec<DevUser>,
    pub sp_acs_url: String,
    pub sp_entity_id: String,
}

impl DevIdp {
    pub fn new(opts: &DevIdpOptions) -> anyhow::Result<Self> {
        let key = SigningKey::load_or_create(
            &opts.state_dir.join("dev-idp-key.pem"),
            &opts.state_dir.join("dev-idp-cert.pem"),
            "saml-broker dev-idp",
        )?;
        let base = opts.public_url.trim_end_matches('/');
        Ok(Self {
            entity_id: format!("{base}/metadata"),
            sso_url: format!("{base}/sso"),
            key,
            users: load_users(&opts.users_file)?,
            sp_acs_url: opts.sp_acs_url.clone(),
            sp_entity_id: opts.sp_entity_id.clone(),
        })
    }

    pub fn metadata(&self) -> anyhow::Result<String> {
        Ok(idp_metadata(
            &self.entity_id,
            &self.sso_url,
            &[self.key.cert_base64()?],
        ))
    }

    /// A signed, base64 response for `user`.
    pub fn response_for(
        &self,
        user: &DevUser,
        in_response_to: Option<&str>,
    ) -> anyhow::Result<String> {
        let mut spec = ResponseSpec::adfs(
            chrono::Utc::now(),
            &self.entity_id,
            &self.sp_acs_url,
            &self.sp_entity_id,
            &user.name_id,
        );
        spec.attributes.clear();
        spec.attributes.push((
            claims::ATTR_SESSION_NAME.into(),
            vec![user
                .session_name
                .clone()
                .unwrap_or_else(|| user.name_id.clone())],
        ));
        if !user.roles.is_empty() {
            spec.attributes
                .push((claims::ATTR_ROLE.into(), user.roles.clone()));
        }
        if let Some(d) = user.session_duration {
            spec.attributes
                .push((claims::ATTR_SESSION_DURATION.into(), vec![d.to_string()]));
        }
        if !user.groups.is_empty() {
            spec.attributes
                .push((claims::ATTR_GROUP.into(), user.groups.clone()));
        }
        for (k, v) in &user.principal_tags {
            spec.attributes.push((
                format!("{}{k}", claims::ATTR_PRINCIPAL_TAG),
                vec![v.clone()],
            ));
        }
        if let Some(s) = &user.source_identity {
            spec.attributes
                .push((claims::ATTR_SOURCE_IDENTITY.into(), vec![s.clone()]));
        }
        if let Some(id) = in_response_to {
            spec = spec.with_request(id);
        }
        spec.sign_base64(&self.key)
    }
}

pub fn router(idp: Arc<DevIdp>) -> Router {
    Router::new()
        .route("/", get(index_get))
        .route("/metadata", get(metadata_get))
        .route("/sso", get(sso_get).post(sso_post))
        .with_state(idp)
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{t}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}} .warn{{background:#fff3cd;border:1px solid #e0b000;padding:.5rem 1rem;border-radius:6px}} label{{display:block;margin-top:.75rem}} input{{font:inherit;padding:.4rem;width:100%}} button{{margin-top:1rem;font:inherit;padding:.5rem 1rem}} code{{font-size:.9em}}</style></head>
<body><p class="warn"><strong>Development IdP.</strong> For demos only; never trust it in production.</p><h1>{t}</h1>{body}</body></html>"#,
        t = esc(title)
    ))
}

async fn index_get(State(idp): State<Arc<DevIdp>>) -> Html<String> {
    let users: String = idp
        .users
        .iter()
        .map(|u| {
            format!(
                "<li><code>{}</code>: {} role(s), groups {}</li>",
                esc(&u.username),
                u.roles.len(),
                esc(&u.groups.join(", "))
            )
        })
        .collect();
    page(
        "saml-broker dev IdP",
        &format!(
            r#"<p>Users from the users file:</p><ul>{users}</ul><p><a href="/sso">IdP-initiated sign-in</a> · <a href="/metadata">metadata</a></p>"#
        ),
    )
}

async fn metadata_get(State(idp): State<Arc<DevIdp>>) -> Response {
    match idp.metadata() {
        Ok(m) => ([(header::CONTENT_TYPE, "application/samlmetadata+xml")], m).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct SsoQuery {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The request id of a redirect-binding AuthnRequest, after checking it asks
/// for our configured ACS.
fn request_id(idp: &DevIdp, encoded: &str) -> Result<String, String> {
    let text = decode_redirect_request(encoded)
        .map_err(|e| format!("SAMLRequest could not be decoded: {e}"))?;
    let req = xml::parse(&text).map_err(|e| format!("SAMLRequest is not valid XML: {e}"))?;
    if !req.is(xml::NS_PROTOCOL, "AuthnRequest") {
        return Err("SAMLRequest is not an AuthnRequest".into());
    }
    if let Some(acs) = req.attr("AssertionConsumerServiceURL") {
        if acs != idp.sp_acs_url {
            return Err(format!(
                "the AuthnRequest asks for ACS {acs}, but this dev IdP is configured for {}",
                idp.sp_acs_url
            ));
        }
    }
    req.attr("ID")
        .map(str::to_string)
        .ok_or_else(|| "AuthnRequest has no ID".into())
}

async fn sso_get(State(idp): State<Arc<DevIdp>>, Query(q): Query<SsoQuery>) -> Response {
    let request_id = match q
        .saml_request
        .as_deref()
        .map(|r| request_id(&idp, r))
        .transpose()
    {
        Ok(id) => id.unwrap_or_default(),
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                page("Bad sign-in request", &format!("<p>{}</p>", esc(&e))),
            )
                .into_response()
        }
    };
    let relay = q.relay_state.unwrap_or_default();
    login_form(&idp, &request_id, &relay, "", None).into_response()
}

/// The login form, carrying the pending sign-in (the AuthnRequest's ID and
/// the RelayState) so that a retry after a wrong password still completes it.
fn login_form(
    idp: &DevIdp,
    request_id: &str,
    relay: &str,
    username: &str,
    error: Option<&str>,
) -> Html<String> {
    let names: Vec<String> = idp.users.iter().map(|u| esc(&u.username)).collect();
    let error = error
        .map(|e| {
            format!(
                r#"<p id="login-error" role="alert"><strong>{}</strong></p>"#,
                esc(e)
            )
        })
        .unwrap_or_default();
    let focus_user = if username.is_empty() {
        " autofocus"
    } else {
        ""
    };
    let focus_pass = if username.is_empty() {
        ""
    } else {
        " autofocus"
    };
    page(
        "Sign in",
        &format!(
            r#"{error}<form method="post" action="/sso">
<input type="hidden" name="request_id" value="{rid}"><input type="hidden" name="relay_state" value="{relay}">
<label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" value="{user}" required{focus_user}>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required{focus_pass}>
<button type="submit">Sign in</button></form><p>Demo users: {users} (password: same as the username in the shipped demo file).</p>"#,
            rid = esc(request_id),
            relay = esc(relay),
            user = esc(username),
            users = names.join(", "),
        ),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    relay_state: String,
}

async fn sso_post(State(idp): State<Arc<DevIdp>>, Form(f): Form<LoginForm>) -> Response {
    let user = idp
        .users
        .iter()
        .find(|u| u.username == f.username && crate::ids::tokens_equal(&u.password, &f.password));
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            login_form(
                &idp,
                &f.request_id,
                &f.relay_state,
                &f.username,
                Some("Unknown user or wrong password. Please try again."),
            ),
        )
            .into_response();
    };
    let irt = (!f.request_id.is_empty()).then_some(f.request_id.as_str());
    let response = match idp.response_for(user, irt) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("signing failed: {e}"),
            )
                .into_response()
        }
    };
    let relay = if f.relay_state.is_empty() {
        String::new()
    } else {
        format!(
            r#"<input type="hidden" name="RelayState" value="{}">"#,
            esc(&f.relay_state)
        )
    };
    page(
        "Signing you in",
        &format!(
            r#"<form method="post" action="{acs}" id="saml-post"><input type="hidden" name="SAMLResponse" value="{resp}">{relay}<button type="submit">Continue to the application</button></form><script>document.getElementById('saml-post').submit();</script>"#,
            acs = esc(&idp.sp_acs_url),
            resp = esc(&response),
        ),
    )
    .into_response()
}
