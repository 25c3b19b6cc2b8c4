//! XML-DSig restricted to the SAML signature profile (SAML 2.0 Core §5.4),
//! verified with `ring` against pinned keys only.
//!
//! The profile, checked in full *before* any cryptography:
//!
//! - the `ds:Signature` is a direct child of the element it signs, which
//!   carries an `ID`;
//! - its children are exactly SignedInfo, SignatureValue and an optional
//!   KeyInfo (never read: keys come from the IdP metadata);
//! - SignedInfo is CanonicalizationMethod (exc-c14n), SignatureMethod and
//!   exactly one Reference;
//! - the Reference URI is `#` + the signed element's `ID`;
//! - the Transforms are exactly enveloped-signature then exc-c14n, the
//!   latter with an optional InclusiveNamespaces PrefixList;
//! - SignatureMethod is RSA-SHA256/384/512 or ECDSA-SHA256/384 and
//!   DigestMethod SHA-256/384/512; RSA-SHA1 and SHA-1 only when allowed.
//!
//! Nothing here opens a file or a socket or evaluates a transform language:
//! there is no such code to reach. The work is one canonicalization of the
//! signed element, one of SignedInfo, one digest and one public-key
//! operation per pinned key at most.

use super::c14n;
use super::xml::{Element, NS_DSIG};
use base64::Engine;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsigError {
    /// The signature does not follow the SAML profile (the message says how).
    #[error("signature is outside the SAML signature profile: {0}")]
    Profile(String),
    #[error("signature algorithm {0} is not allowed")]
    Algorithm(String),
    /// The Reference URI is not `#` + the signed element's ID.
    #[error("signature Reference URI {0:?} is not '#' followed by the signed element's ID")]
    Reference(String),
    #[error("the digest of the signed element does not match its Reference")]
    Digest,
    #[error("the SignatureValue does not verify with any IdP metadata certificate")]
    Signature,
}

fn profile(msg: impl Into<String>) -> DsigError {
    DsigError::Profile(msg.into())
}

/// A public key taken from a pinned certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// RSAPublicKey DER (PKCS#1).
    Rsa(Vec<u8>),
    /// Uncompressed P-256 point.
    EcP256(Vec<u8>),
    /// Uncompressed P-384 point.
    EcP384(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Digest {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Digest {
    fn from_uri(uri: &str, allow_sha1: bool) -> Result<Self, DsigError> {
        Ok(match uri {
            SHA256 => Self::Sha256,
            SHA384 => Self::Sha384,
            SHA512 => Self::Sha512,
            SHA1 if allow_sha1 => Self::Sha1,
            other => return Err(DsigError::Algorithm(other.chars().take(128).collect())),
        })
    }

    fn compute(self, data: &[u8]) -> ring::digest::Digest {
        let alg = match self {
            Self::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        };
        ring::digest::digest(alg, data)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigAlg {
    RsaSha1,
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
}

impl SigAlg {
    fn from_uri(uri: &str, allow_sha1: bool) -> Result<Self, DsigError> {
        Ok(match uri {
            RSA_SHA256 => Self::RsaSha256,
            RSA_SHA384 => Self::RsaSha384,
            RSA_SHA512 => Self::RsaSha512,
            ECDSA_SHA256 => Self::EcdsaSha256,
            ECDSA_SHA384 => Self::EcdsaSha384,
            RSA_SHA1 if allow_sha1 => Self::RsaSha1,
            other => return Err(DsigError::Algorithm(other.chars().take(128).collect())),
        })
    }

    /// The ring algorithm for this signature method and key, or None when
    /// the key cannot make this kind of signature.
    fn ring_alg(self, key: &VerifyingKey) -> Option<&'static dyn VerificationAlgorithm> {
        Some(match (self, key) {
            (Self::RsaSha1, VerifyingKey::Rsa(_)) => {
                &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            (Self::RsaSha256, VerifyingKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (Self::RsaSha384, VerifyingKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (Self::RsaSha512, VerifyingKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (Self::EcdsaSha256, VerifyingKey::EcP256(_)) => &signature::ECDSA_P256_SHA256_FIXED,
            (Self::EcdsaSha384, VerifyingKey::EcP384(_)) => &signature::ECDSA_P384_SHA384_FIXED,
            _ => return None,
        })
    }
}

/// A `ds:Signature` that passed the profile checks, ready to verify.
#[derive(Debug)]
pub struct ProfiledSignature<'a> {
    pub signature: &'a Element,
    signed_info: &'a Element,
    signed_info_prefixes: Vec<String>,
    reference_prefixes: Vec<String>,
    sig_alg: SigAlg,
    digest: Digest,
    digest_value: Vec<u8>,
    signature_value: Vec<u8>,
}

/// The element children of a ds element, refusing non-whitespace text.
fn ds_children<'a>(el: &'a Element, what: &str) -> Result<Vec<&'a Element>, DsigError> {
    if !el.has_only_whitespace_text() {
        return Err(profile(format!("text inside {what}")));
    }
    Ok(el.elements().collect())
}

fn expect_ds<'a>(el: Option<&&'a Element>, name: &str) -> Result<&'a Element, DsigError> {
    match el {
        Some(e) if e.is(NS_DSIG, name) => Ok(e),
        Some(e) => Err(profile(format!(
            "expected ds:{name}, found {}",
            e.name.chars().take(64).collect::<String>()
        ))),
        None => Err(profile(format!("ds:{name} missing"))),
    }
}

fn algorithm(el: &Element) -> &str {
    el.attr("Algorithm").unwrap_or_default()
}

/// An exc-c14n method element: the algorithm, and its InclusiveNamespaces
/// PrefixList if it has one (and nothing else).
fn exc_c14n_prefixes(el: &Element) -> Result<Vec<String>, DsigError> {
    if algorithm(el) != EXC_C14N {
        return Err(DsigError::Algorithm(
            algorithm(el).chars().take(128).collect(),
        ));
    }
    let kids = ds_children(el, "a canonicalization method")?;
    match kids.as_slice() {
        [] => Ok(Vec::new()),
        [inc] if inc.is(EXC_C14N, "InclusiveNamespaces") && inc.elements().next().is_none() => {
            Ok(inc
                .attr("PrefixList")
                .unwrap_or_default()
                .split_ascii_whitespace()
                .map(str::to_string)
                .collect())
        }
        _ => Err(profile("unexpected content in a canonicalization method")),
    }
}

fn b64(text: &str, what: &str) -> Result<Vec<u8>, DsigError> {
    let compact: String = text.split_ascii_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| profile(format!("{what} is not base64")))
}

/// Check that `sig`, a direct child of `signed`, follows the SAML profile.
pub fn profile_check<'a>(
    signed: &'a Element,
    sig: &'a Element,
    allow_sha1: bool,
) -> Result<ProfiledSignature<'a>, DsigError> {
    if !signed.elements().any(|e| std::ptr::eq(e, sig)) {
        return Err(profile(
            "the Signature is not a child of the element it signs",
        ));
    }
    let id = signed
        .attr("ID")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| profile("the signed element has no ID"))?;
    let kids = ds_children(sig, "ds:Signature")?;
    let signed_info = expect_ds(kids.first(), "SignedInfo")?;
    let signature_value = expect_ds(kids.get(1), "SignatureValue")?;
    match kids.get(2) {
        None => {}
        Some(k) if k.is(NS_DSIG, "KeyInfo") && kids.len() == 3 => {}
        Some(_) => {
            return Err(profile(
                "ds:Signature has content besides SignedInfo, SignatureValue and KeyInfo",
            ))
        }
    }
    let si = ds_children(signed_info, "ds:SignedInfo")?;
    let canon = expect_ds(si.first(), "CanonicalizationMethod")?;
    let method = expect_ds(si.get(1), "SignatureMethod")?;
    let reference = expect_ds(si.get(2), "Reference")?;
    if si.len() != 3 {
        return Err(profile("SignedInfo must hold exactly one Reference"));
    }
    let signed_info_prefixes = exc_c14n_prefixes(canon)?;
    if method.elements().next().is_some() || !method.has_only_whitespace_text() {
        return Err(profile("SignatureMethod has parameters"));
    }
    let sig_alg = SigAlg::from_uri(algorithm(method), allow_sha1)?;

    let uri = reference.attr("URI").unwrap_or_default();
    if uri.strip_prefix('#') != Some(id) {
        return Err(DsigError::Reference(uri.chars().take(128).collect()));
    }
    let rk = ds_children(reference, "ds:Reference")?;
    let transforms = expect_ds(rk.first(), "Transforms")?;
    let digest_method = expect_ds(rk.get(1), "DigestMethod")?;
    let digest_value = expect_ds(rk.get(2), "DigestValue")?;
    if rk.len() != 3 {
        return Err(profile("unexpected content in Reference"));
    }
    let tk = ds_children(transforms, "ds:Transforms")?;
    let (t1, t2) = match tk.as_slice() {
        [a, b] if a.is(NS_DSIG, "Transform") && b.is(NS_DSIG, "Transform") => (*a, *b),
        _ => {
            return Err(profile(
                "Transforms must be exactly enveloped-signature and exc-c14n",
            ))
        }
    };
    if algorithm(t1) != ENVELOPED
        || t1.elements().next().is_some()
        || !t1.has_only_whitespace_text()
    {
        return Err(profile(format!(
            "first Transform {:?} is not enveloped-signature",
            algorithm(t1).chars().take(128).collect::<String>()
        )));
    }
    let reference_prefixes = exc_c14n_prefixes(t2).map_err(|e| match e {
        DsigError::Algorithm(a) => profile(format!("second Transform {a:?} is not exc-c14n")),
        other => other,
    })?;
    if digest_method.elements().next().is_some() {
        return Err(profile("DigestMethod has parameters"));
    }
    let digest = Digest::from_uri(algorithm(digest_method), allow_sha1)?;
    if digest_value.elements().next().is_some() {
        return Err(profile("DigestValue has child elements"));
    }
    let digest_value = b64(&digest_value.text(), "DigestValue")?;
    if signature_value.elements().next().is_some() {
        return Err(profile("SignatureValue has child elements"));
    }
    let signature_value = b64(&signature_value.text(), "SignatureValue")?;
    Ok(ProfiledSignature {
        signature: sig,
        signed_info,
        signed_info_prefixes,
        reference_prefixes,
        sig_alg,
        digest,
        digest_value,
        signature_value,
    })
}

impl ProfiledSignature<'_> {
    /// Verify the digest of `signed` (the Signature's parent, within `root`)
    /// and the SignatureValue over SignedInfo with one of `keys`.
    pub fn verify(
        &self,
        root: &Element,
        signed: &Element,
        keys: &[VerifyingKey],
    ) -> Result<(), DsigError> {
        let canon = c14n::exclusive(root, signed, Some(self.signature), &self.reference_prefixes)
            .ok_or_else(|| profile("the signed element is not in the document"))?;
        let digest = self.digest.compute(&canon);
        // Not secret: whoever sent the document can compute this digest too.
        if digest.as_ref() != self.digest_value.as_slice() {
            return Err(DsigError::Digest);
        }
        let si = c14n::exclusive(root, self.signed_info, None, &self.signed_info_prefixes)
            .ok_or_else(|| profile("SignedInfo is not in the document"))?;
        for key in keys {
            let Some(alg) = self.sig_alg.ring_alg(key) else {
                continue;
            };
            let bytes = match key {
                VerifyingKey::Rsa(b) | VerifyingKey::EcP256(b) | VerifyingKey::EcP384(b) => b,
            };
            if UnparsedPublicKey::new(alg, bytes)
                .verify(&si, &self.signature_value)
                .is_ok()
            {
                return Ok(());
            }
        }
        Err(DsigError::Signature)
    }
}

/// Something that can make an RSA-SHA256 (or other) signature: the dev IdP's
/// key, or a test key.
pub trait Signer {
    /// The SignatureMethod URI this signer produces.
    fn algorithm(&self) -> &'static str;
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the document to sign is not valid: {0}")]
    Xml(#[from] super::xml::XmlError),
    #[error("the document has no empty signature template for ID {0:?}")]
    NoTemplate(String),
    #[error("signing failed")]
    Crypto,
}

/// An RSA key as ring holds it; signs RSA-SHA256/384/512 or (legacy) SHA-1.
pub struct RsaSigner<'k> {
    pub key: &'k ring::signature::RsaKeyPair,
    /// The same key as PKCS#1 DER, needed only for RSA-SHA1, which ring
    /// does not sign.
    pub pkcs1_der: Option<&'k [u8]>,
    pub method: &'static str,
}

impl Signer for RsaSigner<'_> {
    fn algorithm(&self) -> &'static str {
        self.method
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        if self.method == RSA_SHA1 {
            return legacy_sha1_sign(self.pkcs1_der.ok_or(SignError::Crypto)?, data);
        }
        let padding: &'static dyn ring::signature::RsaEncoding = match self.method {
            RSA_SHA384 => &signature::RSA_PKCS1_SHA384,
            RSA_SHA512 => &signature::RSA_PKCS1_SHA512,
            _ => &signature::RSA_PKCS1_SHA256,
        };
        let mut sig = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(padding, &ring::rand::SystemRandom::new(), data, &mut sig)
            .map_err(|_| SignError::Crypto)?;
        Ok(sig)
    }
}

/// RSA-SHA1 (PKCS#1 v1.5), only so that tests can show that SHA-1 is refused.
fn legacy_sha1_sign(pkcs1_der: &[u8], data: &[u8]) -> Result<Vec<u8>, SignError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    const SHA1_PREFIX: [u8; 15] = [
        0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
    ];
    let key = rsa::RsaPrivateKey::from_pkcs1_der(pkcs1_der).map_err(|_| SignError::Crypto)?;
    let hashed = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    let scheme = rsa::Pkcs1v15Sign {
        hash_len: Some(20),
        prefix: SHA1_PREFIX.to_vec().into_boxed_slice(),
    };
    key.sign(scheme, hashed.as_ref())
        .map_err(|_| SignError::Crypto)
}

/// Fill in a signature template: the document holds, as a direct child of
/// the element with `ID="id"`, a `ds:Signature` whose DigestValue and
/// SignatureValue are empty (`<ds:DigestValue></ds:DigestValue>` and
/// `<ds:SignatureValue></ds:SignatureValue>`, first occurrences after the
/// element's start). The digest method comes from the template.
///
/// Used by the dev IdP and by tests; the verifier never calls it.
pub fn sign_template(xml: &str, id: &str, signer: &dyn Signer) -> Result<String, SignError> {
    const DV: &str = "<ds:DigestValue></ds:DigestValue>";
    const SV: &str = "<ds:SignatureValue></ds:SignatureValue>";
    let no_template = || SignError::NoTemplate(id.to_string());
    let start = xml.find(&format!("ID=\"{id}\"")).ok_or_else(no_template)?;
    // The digest: canonical form of the element minus its signature.
    let root = super::xml::parse(xml)?;
    let (signed, sig) = find_signed(&root, id).ok_or_else(no_template)?;
    let method = sig
        .child(NS_DSIG, "SignedInfo")
        .and_then(|s| s.child(NS_DSIG, "Reference"))
        .and_then(|r| r.child(NS_DSIG, "DigestMethod"))
        .map(algorithm)
        .unwrap_or(SHA256);
    let digest = Digest::from_uri(method, true).map_err(|_| SignError::Crypto)?;
    let canon = c14n::exclusive(&root, signed, Some(sig), &[]).ok_or_else(no_template)?;
    let dv = base64::engine::general_purpose::STANDARD.encode(digest.compute(&canon));
    let at = start + xml[start..].find(DV).ok_or_else(no_template)?;
    let with_digest = format!(
        "{}<ds:DigestValue>{dv}</ds:DigestValue>{}",
        &xml[..at],
        &xml[at + DV.len()..]
    );
    // The signature over the canonical SignedInfo.
    let root = super::xml::parse(&with_digest)?;
    let (_, sig) = find_signed(&root, id).ok_or_else(no_template)?;
    let si = sig.child(NS_DSIG, "SignedInfo").ok_or_else(no_template)?;
    let si_canon = c14n::exclusive(&root, si, None, &[]).ok_or_else(no_template)?;
    let sv = base64::engine::general_purpose::STANDARD.encode(signer.sign(&si_canon)?);
    let at = start + with_digest[start..].find(SV).ok_or_else(no_template)?;
    Ok(format!(
        "{}<ds:SignatureValue>{sv}</ds:SignatureValue>{}",
        &with_digest[..at],
        &with_digest[at + SV.len()..]
    ))
}

fn find_signed<'a>(el: &'a Element, id: &str) -> Option<(&'a Element, &'a Element)> {
    if el.attr("ID") == Some(id) {
        return el.child(NS_DSIG, "Signature").map(|s| (el, s));
    }
    el.elements().find_map(|e| find_signed(e, id))
}

/// The key of a pinned DER certificate that this module can verify with, or
/// why there is none: RSA keys must have 2048 to 8192 bits (ring's limits),
/// EC keys must be P-256 or P-384.
pub fn verifying_key(der: &[u8]) -> Result<VerifyingKey, String> {
    use super::x509::KeyAlgorithm;
    let cert = super::x509::parse_certificate(der).map_err(|e| e.to_string())?;
    Ok(match cert.algorithm {
        KeyAlgorithm::Rsa => match super::x509::rsa_modulus_bits(&cert.public_key) {
            Some(2048..=8192) => VerifyingKey::Rsa(cert.public_key),
            Some(bits) => {
                return Err(format!(
                    "its RSA key has {bits} bits; signatures are verified only with 2048 to 8192-bit RSA keys"
                ))
            }
            None => return Err("its RSA public key is not valid DER".into()),
        },
        KeyAlgorithm::EcP256 => VerifyingKey::EcP256(cert.public_key),
        KeyAlgorithm::EcP384 => VerifyingKey::EcP384(cert.public_key),
    })
}

/// The public key of a DER certificate, when it can verify signatures.
pub fn key_from_certificate(der: &[u8]) -> Option<VerifyingKey> {
    verifying_key(der).ok()
}

/// Why a pinned certificate's key can never verify a signature here, or None
/// when it can.
pub fn unusable_key(der: &[u8]) -> Option<String> {
    verifying_key(der).err()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rsa_cert(bits: usize) -> Vec<u8> {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).unwrap();
        let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
        let kp = rcgen::KeyPair::try_from(der.as_slice()).unwrap();
        let params = rcgen::CertificateParams::new(vec!["idp.example.com".into()]).unwrap();
        params.self_signed(&kp).unwrap().der().to_vec()
    }

    #[test]
    fn usable_and_unusable_certificates() {
        // (rcgen on ring cannot make a key under 2048 bits; the bit count of
        // short keys is tested on the DER above.)
        assert_eq!(unusable_key(&rsa_cert(2048)), None);
        assert!(unusable_key(b"not a certificate").is_some());
    }
}
