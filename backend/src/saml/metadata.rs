//! IdP metadata (file or https URL, several signing certificates for
//! rotation) and the broker's own SP metadata.

use super::xml::{self, Element, NS_DSIG, NS_METADATA};
use base64::Engine;
use sha2::{Digest, Sha256};

pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("IdP metadata is not valid XML: {0}")]
    Xml(#[from] xml::XmlError),
    #[error("IdP metadata has no EntityDescriptor with an IDPSSODescriptor")]
    NoIdp,
    #[error("IdP metadata has no entityID")]
    NoEntityId,
    #[error("IdP metadata contains no signing certificate (KeyDescriptor use=\"signing\" with an X509Certificate); without one no response could be verified")]
    NoSigningCertificate,
    #[error("IdP metadata certificate {index} is not a valid X.509 certificate: {message}")]
    BadCertificate { index: usize, message: String },
    #[error("IdP metadata has no SingleSignOnService with the HTTP-Redirect binding")]
    NoSsoUrl,
    #[error("cannot fetch IdP metadata from {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("cannot read IdP metadata file {path}: {message}")]
    Read { path: String, message: String },
}

/// A pinned IdP signing certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCert {
    pub der: Vec<u8>,
    /// SHA-256 fingerprint, lowercase hex with colons.
    pub fingerprint: String,
    pub subject: String,
    pub not_after: String,
}

#[derive(Debug, Clone)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_redirect_url: String,
    pub certs: Vec<SigningCert>,
}

impl IdpMetadata {
    pub fn parse(text: &str) -> Result<Self, MetadataError> {
        let root = xml::parse(text)?;
        let entity = find_idp_entity(&root).ok_or(MetadataError::NoIdp)?;
        let entity_id = entity
            .attr("entityID")
            .filter(|s| !s.is_empty())
            .ok_or(MetadataError::NoEntityId)?
            .to_string();
        let idp = entity
            .child(NS_METADATA, "IDPSSODescriptor")
            .ok_or(MetadataError::NoIdp)?;
        let mut certs = Vec::new();
        for kd in idp.children_named(NS_METADATA, "KeyDescriptor") {
            if !matches!(kd.attr("use"), None | Some("signing")) {
                continue;
            }
            let mut found = Vec::new();
            kd.descendants(NS_DSIG, "X509Certificate", &mut found);
            for c in found {
                let b64: String = c.text().split_whitespace().collect();
                let index = certs.len();
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| MetadataError::BadCertificate {
                        index,
                        message: e.to_string(),
                    })?;
                let cert = describe_cert(&der)
                    .map_err(|message| MetadataError::BadCertificate { index, message })?;
                if !certs.iter().any(|x: &SigningCert| x.der == cert.der) {
                    certs.push(cert);
                }
            }
        }
        if certs.is_empty() {
            return Err(MetadataError::NoSigningCertificate);
        }
        let sso_redirect_url = idp
            .children_named(NS_METADATA, "SingleSignOnService")
            .find(|s| s.attr("Binding") == Some(BINDING_REDIRECT))
            .and_then(|s| s.attr("Location"))
            .ok_or(MetadataError::NoSsoUrl)?
            .to_string();
        Ok(Self {
            entity_id,
            sso_redirect_url,
            certs,
        })
    }

    pub fn fingerprints(&self) -> Vec<String> {
        self.certs.iter().map(|c| c.fingerprint.clone()).collect()
    }
}

fn find_idp_entity(root: &Element) -> Option<&Element> {
    if root.is(NS_METADATA, "EntityDescriptor") {
        return root.child(NS_METADATA, "IDPSSODescriptor").map(|_| root);
    }
    if root.is(NS_METADATA, "EntitiesDescriptor") {
        return root.elements().find_map(find_idp_entity);
    }
    None
}

pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn describe_cert(der: &[u8]) -> Result<SigningCert, String> {
    let x = super::x509::parse_certificate(der).map_err(|e| e.to_string())?;
    Ok(SigningCert {
        der: x.der,
        fingerprint: fingerprint(der),
        subject: x.subject,
        // The format OpenSSL's ASN1_TIME printing used: `Nov 25 15:40:11 2027 GMT`.
        not_after: x.not_after.format("%b %e %H:%M:%S %Y GMT").to_string(),
    })
}

/// Load IdP metadata from a file or an https URL.
pub async fn load(
    file: Option<&std::path::Path>,
    url: Option<&str>,
) -> Result<IdpMetadata, MetadataError> {
    let text = match (file, url) {
        (Some(path), _) => {
            tokio::fs::read_to_string(path)
                .await
                .map_err(|e| MetadataError::Read {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?
        }
        (None, Some(url)) => fetch(url).await?,
        (None, None) => {
            return Err(MetadataError::Read {
                path: String::new(),
                message: "no idp.metadata_file or idp.metadata_url".into(),
            })
        }
    };
    IdpMetadata::parse(&text)
}

async fn fetch(url: &str) -> Result<String, MetadataError> {
    let err = |message: String| MetadataError::Fetch {
        url: url.to_string(),
        message,
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| err(e.to_string()))?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| err(fetch_cause(&e)))?;
    if !resp.status().is_success() {
        return Err(err(format!("the server answered HTTP {}", resp.status())));
    }
    let body = resp.bytes().await.map_err(|e| err(fetch_cause(&e)))?;
    if body.len() > 1024 * 1024 {
        return Err(err("metadata larger than 1 MiB".into()));
    }
    String::from_utf8(body.to_vec()).map_err(|e| err(e.to_string()))
}

/// What went wrong with a fetch, in words an operator can act on: the kind
/// (DNS, connection, TLS, timeout) and the innermost causes, which reqwest's
/// own message ("error sending request for url") leaves out.
fn fetch_cause(e: &reqwest::Error) -> String {
    let mut causes: Vec<String> = Vec::new();
    let mut next: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = next {
        let text = c.to_string();
        if !causes.iter().any(|p| p.contains(&text)) {
            causes.push(text);
        }
        next = c.source();
    }
    let all = causes.join(": ").to_ascii_lowercase();
    // hyper's connector labels its own failures ("dns error", "tcp connect
    // error"); anything else while connecting comes from the TLS layer.
    let kind = if e.is_timeout() {
        "timed out after 10 s"
    } else if all.contains("dns error") {
        "DNS lookup failed"
    } else if all.contains("tcp connect error") || all.contains("tcp open error") {
        "cannot connect"
    } else if e.is_connect()
        || ["tls", "certificate", "handshake"]
            .iter()
            .any(|w| all.contains(w))
    {
        "TLS failed"
    } else {
        "request failed"
    };
    // The last cause is the most specific; earlier ones are hyper's wrappers.
    match causes.last() {
        Some(c) => format!("{kind}: {c}"),
        None => format!("{kind}: {e}"),
    }
}

/// The broker's SP metadata.
pub fn sp_metadata(entity_id: &str, acs_url: &str) -> String {
    let e = |s: &str| quick_xml::escape::escape(s).into_owned();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{post}" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = e(entity_id),
        acs = e(acs_url),
        post = BINDING_POST,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn metadata_without_signing_certificate_is_refused() {
        let md = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>"#;
        assert!(matches!(
            IdpMetadata::parse(md),
            Err(MetadataError::NoSigningCertificate)
        ));
    }

    #[test]
    fn sp_metadata_names_the_acs() {
        let m = sp_metadata("https://b/saml/metadata", "https://b/saml/acs");
        let root = xml::parse(&m).unwrap();
        assert_eq!(root.attr("entityID"), Some("https://b/saml/metadata"));
        assert!(m.contains(r#"Location="https://b/saml/acs""#));
    }

    fn with_cert(b64: &str) -> String {
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://www.okta.com/exk">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>
{b64}
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    /// What check-config prints for a real-world (Okta) signing certificate;
    /// the expiry keeps the format the OpenSSL-based version printed.
    #[test]
    fn signing_certificate_is_described() {
        let md = IdpMetadata::parse(&with_cert(include_str!("testdata/okta-signing.b64"))).unwrap();
        let c = &md.certs[0];
        assert_eq!(c.not_after, "Sep  7 14:33:59 2028 GMT");
        assert!(
            c.subject
                .ends_with("CN=dev-513394, emailAddress=info@okta.com"),
            "{}",
            c.subject
        );
        assert!(
            c.fingerprint.starts_with("d4:0d:f0:1c:"),
            "{}",
            c.fingerprint
        );
    }

    #[test]
    fn a_certificate_that_is_not_x509_is_refused() {
        // Valid base64, not a certificate; and a certificate with a byte appended.
        let mut der = base64::engine::general_purpose::STANDARD
            .decode(
                include_str!("testdata/okta-signing.b64")
                    .split_whitespace()
                    .collect::<String>(),
            )
            .unwrap();
        der.push(0);
        for b64 in [
            "bm90IGEgY2VydGlmaWNhdGU=".to_string(),
            base64::engine::general_purpose::STANDARD.encode(&der),
        ] {
            assert!(matches!(
                IdpMetadata::parse(&with_cert(&b64)),
                Err(MetadataError::BadCertificate { index: 0, .. })
            ));
        }
    }
}
