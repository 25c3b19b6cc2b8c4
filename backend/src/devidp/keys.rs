//! RSA signing keys and self-signed certificates for the development IdP
//! (and for tests that need an IdP key of their own).

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};
use std::path::Path;

#[derive(Clone)]
pub struct SigningKey {
    pub key: PKey<Private>,
    pub cert: X509,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl SigningKey {
    /// A fresh 2048-bit RSA key with a self-signed certificate valid for ten years.
    pub fn generate(common_name: &str) -> anyhow::Result<Self> {
        let rsa = Rsa::generate(2048)?;
        let key = PKey::from_rsa(rsa)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", common_name)?;
        let name = name.build();
        let mut b = X509::builder()?;
        b.set_version(2)?;
        let serial = BigNum::from_u32(rand::random::<u32>() >> 1)?.to_asn1_integer()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        b.set_not_before(Asn1Time::days_from_now(0)?.as_ref())?;
        b.set_not_after(Asn1Time::days_from_now(3650)?.as_ref())?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok(Self {
            key,
            cert: b.build(),
        })
    }

    /// Load a PEM key and certificate, creating both when the key file does not exist.
    pub fn load_or_create(
        key_path: &Path,
        cert_path: &Path,
        common_name: &str,
    ) -> anyhow::Result<Self> {
        if key_path.exists() {
            let key = PKey::private_key_from_pem(&std::fs::read(key_path)?)?;
            let cert = X509::from_pem(&std::fs::read(cert_path)?)?;
            return Ok(Self { key, cert });
        }
        let k = Self::generate(common_name)?;
        if let Some(dir) = key_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        write_private(key_path, &k.key.private_key_to_pem_pkcs8()?)?;
        std::fs::write(cert_path, k.cert.to_pem()?)?;
        Ok(k)
    }

    pub fn key_der(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self.key.private_key_to_der()?)
    }

    pub fn cert_der(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self.cert.to_der()?)
    }

    pub fn cert_base64(&self) -> anyhow::Result<String> {
        use base64::Engine;
        Ok(base64::engine::general_purpose::STANDARD.encode(self.cert_der()?))
    }

    pub fn cert_pem(&self) -> anyhow::Result<String> {
        Ok(String::from_utf8(self.cert.to_pem()?)?)
    }

    pub fn key_pem(&self) -> anyhow::Result<String> {
        Ok(String::from_utf8(self.key.private_key_to_pem_pkcs8()?)?)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(bytes)
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, bytes)
    }
}

/// IdP metadata for a signing certificate.
pub fn idp_metadata(entity_id: &str, sso_url: &str, cert_b64: &[String]) -> String {
    let e = |s: &str| quick_xml::escape::escape(s).into_owned();
    let keys: String = cert_b64
        .iter()
        .map(|c| {
            format!(
                r#"    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
"#
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="false">
{keys}    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = e(entity_id),
        sso = e(sso_url),
    )
}
