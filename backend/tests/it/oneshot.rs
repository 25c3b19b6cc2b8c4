//! The in-process harness: requests handed to a [`TestApp`]'s router with
//! `tower::ServiceExt::oneshot`, no listener and no socket. For tests of
//! what the broker answers (status, headers, pages, JSON); tests of real
//! sockets, cookies across a real client, or other servers talking to the
//! broker use [`TestApp::spawn`] and reqwest.

use crate::common::{idp_key, request_and_relay, urlencode, TestApp};

impl TestApp {
    /// An in-process browser for this app: a cookie jar and requests sent
    /// through the router with `oneshot`, from 127.0.0.1.
    #[allow(dead_code)]
    pub fn browser(&self) -> Browser<'_> {
        Browser {
            app: self,
            jar: std::sync::Mutex::new(Vec::new()),
            peer: "127.0.0.1:40000".parse().unwrap(),
        }
    }
}

/// A browser with no socket: a cookie jar, and requests handed to the app's
/// router with `tower::ServiceExt::oneshot`, as from `peer` (the
/// `ConnectInfo` the server would insert). Cookies are sent back by path;
/// `Max-Age=0` removes one. Nothing here follows redirects.
#[allow(dead_code)]
pub struct Browser<'a> {
    pub app: &'a TestApp,
    jar: std::sync::Mutex<Vec<(String, String, String)>>,
    peer: std::net::SocketAddr,
}

/// One request being built by a [`Browser`].
#[allow(dead_code)]
pub struct Call<'b, 'a> {
    browser: &'b Browser<'a>,
    method: axum::http::Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// An answer from the router, read to the end.
#[allow(dead_code)]
pub struct Answer {
    status: axum::http::StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

#[allow(dead_code)]
impl Answer {
    pub fn status(&self) -> axum::http::StatusCode {
        self.status
    }
    pub fn headers(&self) -> &axum::http::HeaderMap {
        &self.headers
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[allow(dead_code)]
impl<'b, 'a> Call<'b, 'a> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish()
            .into_bytes();
        self.header("content-type", "application/x-www-form-urlencoded")
    }

    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = serde_json::to_vec(value).unwrap();
        self.header("content-type", "application/json")
    }

    pub async fn send(self) -> Answer {
        use tower::ServiceExt;
        let b = self.browser;
        let host = url::Url::parse(&b.app.base).unwrap();
        let mut req = axum::http::Request::builder()
            .method(self.method)
            .uri(&self.path)
            .header("host", host.authority());
        let cookies = b.cookies_for(&self.path);
        if !cookies.is_empty() {
            req = req.header("cookie", cookies);
        }
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut req = req.body(axum::body::Body::from(self.body)).unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(b.peer));
        let resp = b.app.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        b.remember(&headers);
        Answer {
            status,
            headers,
            body,
        }
    }
}

#[allow(dead_code)]
impl<'a> Browser<'a> {
    fn call(&self, method: axum::http::Method, path: &str) -> Call<'_, 'a> {
        Call {
            browser: self,
            method,
            path: path.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(&self, path: &str) -> Call<'_, 'a> {
        self.call(axum::http::Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_, 'a> {
        self.call(axum::http::Method::POST, path)
    }

    /// The value of a cookie in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.clone())
    }

    fn cookies_for(&self, path: &str) -> String {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, p)| path.starts_with(p.as_str()))
            .map(|(n, v, _)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&self, headers: &axum::http::HeaderMap) {
        let mut jar = self.jar.lock().unwrap();
        for set in headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let mut parts = set.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let mut path = "/".to_string();
            let mut gone = false;
            for attr in parts {
                let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
                if k.eq_ignore_ascii_case("path") {
                    path = v.to_string();
                } else if k.eq_ignore_ascii_case("max-age") {
                    gone |= v.parse::<i64>().is_ok_and(|s| s <= 0);
                }
            }
            jar.retain(|(n, _, p)| !(n == name && *p == path));
            if !gone {
                jar.push((name.to_string(), value.to_string(), path));
            }
        }
    }

    /// Start an SP-initiated login; returns (request id, RelayState) read from the redirect.
    pub async fn start_login(&self, return_to: Option<&str>) -> (String, String) {
        let mut url = "/saml/login".to_string();
        if let Some(r) = return_to {
            url = format!("{url}?return_to={}", urlencode(r));
        }
        let resp = self.get(&url).send().await;
        assert_eq!(resp.status(), 302);
        request_and_relay(resp.headers()["location"].to_str().unwrap())
    }

    pub async fn post_acs(&self, saml_b64: &str, relay: Option<&str>) -> Answer {
        let mut form = vec![("SAMLResponse", saml_b64)];
        if let Some(r) = relay {
            form.push(("RelayState", r));
        }
        self.post("/saml/acs").form(&form).send().await
    }

    /// SP-initiated sign-in as `name_id` with exactly these Role values; returns the ACS answer.
    pub async fn sign_in(&self, name_id: &str, roles: &[&str]) -> Answer {
        self.sign_in_with_groups(name_id, roles, &["Developers"])
            .await
    }

    /// Like [`Browser::sign_in`], with these group claims instead of "Developers".
    pub async fn sign_in_with_groups(
        &self,
        name_id: &str,
        roles: &[&str],
        groups: &[&str],
    ) -> Answer {
        let (rid, relay) = self.start_login(None).await;
        let spec = self.app.spec_with(name_id, Some(&rid), roles, groups);
        self.post_acs(&spec.sign_base64(idp_key()).unwrap(), Some(&relay))
            .await
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.get(path).send().await;
        (r.status().as_u16(), r.json())
    }
}
