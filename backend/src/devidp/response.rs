//! Builds and signs ADFS-shaped SAML responses. Used by the development IdP,
//! and by the tests, which mutate one field at a time and re-sign so that the
//! signature verifies and the named check is what refuses the response.

use super::keys::SigningKey;
use crate::saml::claims;
use crate::saml::dsig::{self, RsaSigner};
use base64::Engine;
use chrono::{DateTime, Duration, SecondsFormat, Utc};

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// Every field of a response that a test may want to change.
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    pub response_id: String,
    pub assertion_id: String,
    pub response_issuer: Option<String>,
    pub assertion_issuer: String,
    pub destination: Option<String>,
    pub in_response_to: Option<String>,
    pub scd_in_response_to: Option<String>,
    pub recipient: String,
    /// None leaves out the AudienceRestriction entirely.
    pub audiences: Option<Vec<String>>,
    pub issue_instant: DateTime<Utc>,
    pub assertion_issue_instant: DateTime<Utc>,
    pub not_before: DateTime<Utc>,
    pub not_on_or_after: DateTime<Utc>,
    pub scd_not_on_or_after: DateTime<Utc>,
    pub status: String,
    pub name_id: String,
    pub name_id_format: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub signature_method: String,
    pub digest_method: String,
    /// None uses `#<assertion_id>`.
    pub reference_uri: Option<String>,
    pub sign_assertion: bool,
    pub sign_response: bool,
}

impl ResponseSpec {
    /// A valid response as ADFS would send it (assertion signed, RSA-SHA256).
    pub fn adfs(
        now: DateTime<Utc>,
        issuer: &str,
        acs_url: &str,
        audience: &str,
        name_id: &str,
    ) -> Self {
        Self {
            response_id: new_id(),
            assertion_id: new_id(),
            response_issuer: Some(issuer.to_string()),
            assertion_issuer: issuer.to_string(),
            destination: Some(acs_url.to_string()),
            in_response_to: None,
            scd_in_response_to: None,
            recipient: acs_url.to_string(),
            audiences: Some(vec![audience.to_string()]),
            issue_instant: now,
            assertion_issue_instant: now,
            not_before: now - Duration::seconds(5),
            not_on_or_after: now + Duration::minutes(60),
            scd_not_on_or_after: now + Duration::minutes(5),
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            name_id: name_id.to_string(),
            name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
            attributes: vec![(claims::ATTR_SESSION_NAME.into(), vec![name_id.to_string()])],
            signature_method: RSA_SHA256.into(),
            digest_method: SHA256.into(),
            reference_uri: None,
            sign_assertion: true,
            sign_response: false,
        }
    }

    pub fn with_request(mut self, request_id: &str) -> Self {
        self.in_response_to = Some(request_id.to_string());
        self.scd_in_response_to = Some(request_id.to_string());
        self
    }

    pub fn with_attribute(mut self, name: &str, values: &[&str]) -> Self {
        self.attributes.push((
            name.to_string(),
            values.iter().map(|v| v.to_string()).collect(),
        ));
        self
    }

    /// The assertion element (unsigned, with a signature template when asked).
    pub fn assertion_xml(&self, key: &SigningKey) -> anyhow::Result<String> {
        let e = esc;
        let t = |d: &DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::Millis, true);
        let irt = self
            .scd_in_response_to
            .as_ref()
            .map(|v| format!(r#" InResponseTo="{}""#, e(v)))
            .unwrap_or_default();
        let audiences = self
            .audiences
            .as_ref()
            .map(|a| {
                let inner: String = a
                    .iter()
                    .map(|x| format!("<Audience>{}</Audience>", e(x)))
                    .collect();
                format!("<AudienceRestriction>{inner}</AudienceRestriction>")
            })
            .unwrap_or_default();
        let attrs: String = self
            .attributes
            .iter()
            .map(|(n, vs)| {
                let v: String = vs
                    .iter()
                    .map(|v| format!("<AttributeValue>{}</AttributeValue>", e(v)))
                    .collect();
                format!(r#"<Attribute Name="{}">{v}</Attribute>"#, e(n))
            })
            .collect();
        let signature = if self.sign_assertion {
            signature_template(
                self.reference_uri
                    .clone()
                    .unwrap_or_else(|| format!("#{}", self.assertion_id)),
                &self.signature_method,
                &self.digest_method,
                key,
            )?
        } else {
            String::new()
        };
        Ok(format!(
            r#"<Assertion ID="{id}" IssueInstant="{ii}" Version="2.0" xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><Issuer>{issuer}</Issuer>{signature}<Subject><NameID Format="{nif}">{name_id}</NameID><SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><SubjectConfirmationData{irt} NotOnOrAfter="{scd_na}" Recipient="{recipient}"/></SubjectConfirmation></Subject><Conditions NotBefore="{nb}" NotOnOrAfter="{na}">{audiences}</Conditions><AttributeStatement>{attrs}</AttributeStatement><AuthnStatement AuthnInstant="{ii}" SessionIndex="{id}"><AuthnContext><AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</AuthnContextClassRef></AuthnContext></AuthnStatement></Assertion>"#,
            id = e(&self.assertion_id),
            ii = t(&self.assertion_issue_instant),
            issuer = e(&self.assertion_issuer),
            nif = e(&self.name_id_format),
            name_id = e(&self.name_id),
            scd_na = t(&self.scd_not_on_or_after),
            recipient = e(&self.recipient),
            nb = t(&self.not_before),
            na = t(&self.not_on_or_after),
        ))
    }

    /// The whole response, signed as the spec says.
    pub fn sign(&self, key: &SigningKey) -> anyhow::Result<String> {
        self.sign_with(key, |a| a)
    }

    /// Like [`ResponseSpec::sign`], with a change to the assertion XML made
    /// *before* it is signed (so the signature covers the change).
    pub fn sign_with(
        &self,
        key: &SigningKey,
        mutate: impl FnOnce(String) -> String,
    ) -> anyhow::Result<String> {
        let mut assertion = mutate(self.assertion_xml(key)?);
        let method: &'static str = match self.signature_method.as_str() {
            dsig::RSA_SHA1 => dsig::RSA_SHA1,
            dsig::RSA_SHA384 => dsig::RSA_SHA384,
            dsig::RSA_SHA512 => dsig::RSA_SHA512,
            _ => dsig::RSA_SHA256,
        };
        // ring signs everything but RSA-SHA1; only that needs the PKCS#1 form.
        let pkcs1 = if method == dsig::RSA_SHA1 {
            Some(key.key_der()?)
        } else {
            None
        };
        let signer = RsaSigner {
            key: key.key_pair(),
            pkcs1_der: pkcs1.as_deref(),
            method,
        };
        if self.sign_assertion {
            assertion = dsig::sign_template(&assertion, &self.assertion_id, &signer)?;
        }
        let response = self.response_xml(&assertion, key)?;
        if self.sign_response {
            return Ok(dsig::sign_template(&response, &self.response_id, &signer)?);
        }
        Ok(response)
    }

    /// Sign and base64-encode, as the IdP posts it.
    pub fn sign_base64(&self, key: &SigningKey) -> anyhow::Result<String> {
        Ok(base64::engine::general_purpose::STANDARD.encode(self.sign(key)?))
    }

    fn response_xml(&self, assertion: &str, key: &SigningKey) -> anyhow::Result<String> {
        let e = esc;
        let dest = self
            .destination
            .as_ref()
            .map(|d| format!(r#" Destination="{}""#, e(d)))
            .unwrap_or_default();
        let irt = self
            .in_response_to
            .as_ref()
            .map(|d| format!(r#" InResponseTo="{}""#, e(d)))
            .unwrap_or_default();
        let issuer = self
            .response_issuer
            .as_ref()
            .map(|i| {
                format!(
                    r#"<Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">{}</Issuer>"#,
                    e(i)
                )
            })
            .unwrap_or_default();
        let signature = if self.sign_response {
            signature_template(
                format!("#{}", self.response_id),
                &self.signature_method,
                &self.digest_method,
                key,
            )?
        } else {
            String::new()
        };
        Ok(format!(
            r#"<samlp:Response ID="{id}" Version="2.0" IssueInstant="{ii}"{dest}{irt} Consent="urn:oasis:names:tc:SAML:2.0:consent:unspecified" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">{issuer}{signature}<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>{assertion}</samlp:Response>"#,
            id = e(&self.response_id),
            ii = self
                .issue_instant
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            status = e(&self.status),
        ))
    }
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

pub use crate::ids::new_id;

fn signature_template(
    uri: String,
    sig_alg: &str,
    digest_alg: &str,
    key: &SigningKey,
) -> anyhow::Result<String> {
    Ok(format!(
        r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sig_alg}"/><ds:Reference URI="{uri}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest_alg}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"#,
        uri = esc(&uri),
        cert = key.cert_base64()?,
    ))
}
