//! RSA signing keys and self-signed certificates for the development IdP
//! (and for tests that need an IdP key of their own).

use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::der::pem::{self, LineEnding};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use std::path::Path;
use std::sync::Arc;

/// An RSA key (2048 bits when generated) and its self-signed certificate.
#[derive(Clone)]
pub struct SigningKey {
    /// PKCS#8 PrivateKeyInfo DER.
    pkcs8: Arc<[u8]>,
    /// PKCS#1 RSAPrivateKey DER, what `XmlSec::sign_xml` takes.
    pkcs1: Arc<[u8]>,
    cert: Arc<[u8]>,
    key_pair: Arc<ring::signature::RsaKeyPair>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

const PEM_KEY: &str = "PRIVATE KEY";
const PEM_RSA_KEY: &str = "RSA PRIVATE KEY";
const PEM_CERT: &str = "CERTIFICATE";

impl SigningKey {
    /// A fresh 2048-bit RSA key with a self-signed certificate valid for ten years.
    pub fn generate(common_name: &str) -> anyhow::Result<Self> {
        let rsa = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
        let pkcs8 = rsa.to_pkcs8_der()?.as_bytes().to_vec();
        let signer = rcgen::KeyPair::try_from(pkcs8.as_slice())?;
        let mut params = rcgen::CertificateParams::default();
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::CommonName, common_name);
        params.distinguished_name = name;
        // A positive serial of at most 63 bits, like the earlier OpenSSL code's 31.
        params.serial_number = Some(rcgen::SerialNumber::from(rand::random::<u64>() >> 1));
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now;
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&signer)?;
        Self::from_parts(rsa, pkcs8, cert.der().to_vec())
    }

    /// Load a PEM key and certificate, creating both when the key file does not exist.
    ///
    /// The key file holds a PKCS#8 `PRIVATE KEY` (what this function writes, and
    /// what earlier OpenSSL-based versions wrote) or a PKCS#1 `RSA PRIVATE KEY`.
    pub fn load_or_create(
        key_path: &Path,
        cert_path: &Path,
        common_name: &str,
    ) -> anyhow::Result<Self> {
        if key_path.exists() {
            let key = std::fs::read_to_string(key_path)?;
            let cert = std::fs::read_to_string(cert_path)?;
            return Self::from_pem(&key, &cert).map_err(|e| {
                anyhow::anyhow!("{} / {}: {e}", key_path.display(), cert_path.display())
            });
        }
        let k = Self::generate(common_name)?;
        if let Some(dir) = key_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        write_private(key_path, k.key_pem()?.as_bytes())?;
        std::fs::write(cert_path, k.cert_pem()?)?;
        Ok(k)
    }

    /// A key and certificate from their PEM texts.
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> anyhow::Result<Self> {
        let (label, der) =
            pem::decode_vec(key_pem.trim().as_bytes()).map_err(|e| anyhow::anyhow!("key: {e}"))?;
        let rsa = match label {
            PEM_KEY => rsa::RsaPrivateKey::from_pkcs8_der(&der)?,
            PEM_RSA_KEY => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                rsa::RsaPrivateKey::from_pkcs1_der(&der)?
            }
            other => {
                anyhow::bail!("key: expected an RSA PRIVATE KEY or PRIVATE KEY, found {other}")
            }
        };
        let (label, cert) = pem::decode_vec(cert_pem.trim().as_bytes())
            .map_err(|e| anyhow::anyhow!("certificate: {e}"))?;
        anyhow::ensure!(
            label == PEM_CERT,
            "certificate: expected a CERTIFICATE, found {label}"
        );
        let pkcs8 = rsa.to_pkcs8_der()?.as_bytes().to_vec();
        Self::from_parts(rsa, pkcs8, cert)
    }

    fn from_parts(rsa: rsa::RsaPrivateKey, pkcs8: Vec<u8>, cert: Vec<u8>) -> anyhow::Result<Self> {
        let pkcs1 = rsa.to_pkcs1_der()?.as_bytes().to_vec();
        let key_pair = ring::signature::RsaKeyPair::from_pkcs8(&pkcs8)
            .map_err(|e| anyhow::anyhow!("key refused by ring: {e}"))?;
        Ok(Self {
            pkcs8: pkcs8.into(),
            pkcs1: pkcs1.into(),
            cert: cert.into(),
            key_pair: Arc::new(key_pair),
        })
    }

    /// The private key as PKCS#1 RSAPrivateKey DER (what OpenSSL's
    /// `private_key_to_der` gave for RSA, and what `XmlSec::sign_xml` takes).
    pub fn key_der(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self.pkcs1.to_vec())
    }

    /// The private key as PKCS#8 PrivateKeyInfo DER.
    pub fn pkcs8_der(&self) -> Vec<u8> {
        self.pkcs8.to_vec()
    }

    /// The key ready for signing with `ring`.
    pub fn key_pair(&self) -> &ring::signature::RsaKeyPair {
        &self.key_pair
    }

    pub fn cert_der(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self.cert.to_vec())
    }

    pub fn cert_base64(&self) -> anyhow::Result<String> {
        use base64::Engine;
        Ok(base64::engine::general_purpose::STANDARD.encode(&self.cert))
    }

    pub fn cert_pem(&self) -> anyhow::Result<String> {
        pem::encode_string(PEM_CERT, LineEnding::LF, &self.cert).map_err(|e| anyhow::anyhow!("{e}"))
    }

    pub fn key_pem(&self) -> anyhow::Result<String> {
        pem::encode_string(PEM_KEY, LineEnding::LF, &self.pkcs8).map_err(|e| anyhow::anyhow!("{e}"))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;

    const OPENSSL_KEY: &str = include_str!("testdata/openssl-key.pem");
    const OPENSSL_CERT: &str = include_str!("testdata/openssl-cert.pem");
    const OPENSSL_PKCS1: &[u8] = include_bytes!("testdata/openssl-key-pkcs1.der");

    fn signs_and_verifies(k: &SigningKey) {
        let rng = ring::rand::SystemRandom::new();
        let mut sig = vec![0; k.key_pair().public().modulus_len()];
        k.key_pair()
            .sign(&ring::signature::RSA_PKCS1_SHA256, &rng, b"msg", &mut sig)
            .unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            k.key_pair().public().as_ref(),
        )
        .verify(b"msg", &sig)
        .unwrap();
    }

    #[test]
    fn generated_key_is_rsa_2048_in_every_encoding() {
        let k = SigningKey::generate("unit idp").unwrap();
        let from_pkcs1 = rsa::RsaPrivateKey::from_pkcs1_der(&k.key_der().unwrap()).unwrap();
        let from_pkcs8 = rsa::RsaPrivateKey::from_pkcs8_der(&k.pkcs8_der()).unwrap();
        assert_eq!(from_pkcs1, from_pkcs8);
        assert_eq!(from_pkcs1.n().bits(), 2048);
        assert_eq!(k.key_pair().public().modulus_len(), 256);
        signs_and_verifies(&k);
        let cert = crate::saml::x509::parse_certificate(&k.cert_der().unwrap()).unwrap();
        assert_eq!(cert.subject, "CN=unit idp");
        assert!(matches!(
            cert.algorithm,
            crate::saml::x509::KeyAlgorithm::Rsa
        ));
        assert_eq!(cert.public_key, k.key_pair().public().as_ref());
        let days = (cert.not_after - cert.not_before).num_days();
        assert_eq!(days, 3650);
        assert!(k
            .key_pem()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(k
            .cert_pem()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\n"));
    }

    #[test]
    fn files_written_by_the_openssl_version_still_load() {
        let k = SigningKey::from_pem(OPENSSL_KEY, OPENSSL_CERT).unwrap();
        assert_eq!(k.key_der().unwrap(), OPENSSL_PKCS1, "key_der stays PKCS#1");
        let (_, cert) = pem::decode_vec(OPENSSL_CERT.as_bytes()).unwrap();
        assert_eq!(k.cert_der().unwrap(), cert);
        assert_eq!(k.cert_pem().unwrap(), OPENSSL_CERT);
        assert_eq!(k.key_pem().unwrap(), OPENSSL_KEY);
        signs_and_verifies(&k);
        // A PKCS#1 PEM key is read too.
        let pkcs1_pem = pem::encode_string(PEM_RSA_KEY, LineEnding::LF, OPENSSL_PKCS1).unwrap();
        let k1 = SigningKey::from_pem(&pkcs1_pem, OPENSSL_CERT).unwrap();
        assert_eq!(k1.pkcs8_der(), k.pkcs8_der());
        assert!(SigningKey::from_pem(OPENSSL_CERT, OPENSSL_CERT).is_err());
        assert!(SigningKey::from_pem(OPENSSL_KEY, OPENSSL_KEY).is_err());
        assert!(SigningKey::from_pem("not pem", OPENSSL_CERT).is_err());
    }

    #[test]
    fn load_or_create_writes_then_reads_the_same_key() {
        let dir = std::env::temp_dir().join(format!("keys-{}", uuid::Uuid::new_v4().simple()));
        let (kp, cp) = (dir.join("k/idp-key.pem"), dir.join("k/idp-cert.pem"));
        let a = SigningKey::load_or_create(&kp, &cp, "created").unwrap();
        let b = SigningKey::load_or_create(&kp, &cp, "ignored").unwrap();
        assert_eq!(a.pkcs8_der(), b.pkcs8_der());
        assert_eq!(a.cert_der().unwrap(), b.cert_der().unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&kp).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let k = SigningKey::from_pem(OPENSSL_KEY, OPENSSL_CERT).unwrap();
        assert_eq!(format!("{k:?}"), "SigningKey([redacted])");
    }
}
