//! SP-initiated login: the AuthnRequest (HTTP-Redirect binding), the opaque
//! RelayState that keys the pending request on the server, and `return_to`
//! validation.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::write::DeflateEncoder;
use flate2::Compression;
use std::io::Write;
use url::Url;

/// An opaque, unguessable RelayState id (never a URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayState(String);

impl RelayState {
    pub fn generate() -> Self {
        let bytes: [u8; 24] = rand::random();
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }
    /// Accept only the shape [`RelayState::generate`] produces.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A same-origin relative path to send the person to after sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

impl ReturnTo {
    /// Accept `/path?query` only: no scheme, no host, no `//` or `/\` prefix,
    /// no control characters or backslashes.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.starts_with('/')
            && !s.starts_with("//")
            && !s.contains('\\')
            && !s.chars().any(|c| c.is_control())
            && s.len() <= 1024;
        if !ok {
            return None;
        }
        // A relative reference resolved against a dummy origin must stay on it.
        let base = Url::parse("http://broker.invalid/").ok()?;
        let joined = base.join(s).ok()?;
        (joined.host_str() == Some("broker.invalid") && joined.scheme() == "http")
            .then(|| Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The redirect URL carrying a deflated, base64 AuthnRequest.
pub fn redirect_url(
    sso_url: &str,
    request_id: &str,
    issue_instant: DateTime<Utc>,
    sp_entity_id: &str,
    acs_url: &str,
    relay_state: &RelayState,
) -> anyhow::Result<String> {
    let e = |s: &str| quick_xml::escape::escape(s).into_owned();
    let xml = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{ii}" Destination="{dest}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#,
        id = e(request_id),
        ii = issue_instant.to_rfc3339_opts(SecondsFormat::Secs, true),
        dest = e(sso_url),
        acs = e(acs_url),
        issuer = e(sp_entity_id),
    );
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(xml.as_bytes())?;
    let deflated = enc.finish()?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let mut url = Url::parse(sso_url)?;
    url.query_pairs_mut()
        .append_pair("SAMLRequest", &encoded)
        .append_pair("RelayState", relay_state.as_str());
    Ok(url.to_string())
}

/// Decode a redirect-binding AuthnRequest (used by the development IdP).
pub fn decode_redirect_request(encoded: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let raw = base64::engine::general_purpose::STANDARD.decode(encoded.trim())?;
    let mut out = String::new();
    flate2::read::DeflateDecoder::new(&raw[..])
        .take(64 * 1024)
        .read_to_string(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn return_to_accepts_same_origin_paths_only() {
        for ok in ["/", "/app", "/app/x?y=1#z", "/a%2Fb"] {
            assert!(ReturnTo::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil",
            "",
            "/\tx",
            "/ok\n",
            "\\\\evil",
        ] {
            assert!(ReturnTo::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn relay_state_is_opaque_and_strict() {
        let r = RelayState::generate();
        assert_eq!(RelayState::parse(r.as_str()), Some(r.clone()));
        assert_ne!(RelayState::generate(), r);
        assert!(RelayState::parse("/app").is_none());
        assert!(RelayState::parse("https://evil.example/aaaaaaaaaaaaaaaaaa").is_none());
        assert!(RelayState::parse("").is_none());
    }

    #[test]
    fn redirect_round_trips() {
        let rs = RelayState::generate();
        let url = redirect_url(
            "https://idp/sso?x=1",
            "_r1",
            Utc::now(),
            "sp",
            "https://sp/acs",
            &rs,
        )
        .unwrap();
        let u = Url::parse(&url).unwrap();
        let pairs: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(pairs["x"], "1");
        assert_eq!(pairs["RelayState"], rs.as_str());
        let xml = decode_redirect_request(&pairs["SAMLRequest"]).unwrap();
        assert!(xml.contains(r#"ID="_r1""#));
        assert!(xml.contains(r#"AssertionConsumerServiceURL="https://sp/acs""#));
    }
}
