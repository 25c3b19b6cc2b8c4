//! A minimal, strict DER reader for the X.509 certificates in IdP metadata.
//!
//! It reads what the broker needs from a pinned signing certificate (the
//! public key, the validity window, the subject for operators, the
//! fingerprint) and nothing more. It does not verify the certificate's own
//! signature or any chain: IdP signing certificates are trusted because they
//! are pinned in the metadata, not because of who issued them.
//!
//! Strict DER: definite, minimal lengths of at most four bytes, single-byte
//! tags, no trailing bytes anywhere, BIT STRINGs without unused bits. The
//! reader never recurses on attacker data and never indexes past a length it
//! has checked, so hostile input fails fast with an error, never a panic.

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Rsa,
    EcP256,
    EcP384,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub der: Vec<u8>,
    pub algorithm: KeyAlgorithm,
    /// RSA: the RSAPublicKey DER (contents of the subjectPublicKey BIT STRING),
    /// as ring's `RSA_PKCS1_*` `UnparsedPublicKey` wants.
    /// EC: the uncompressed point, as ring's `ECDSA_*_FIXED` wants.
    pub public_key: Vec<u8>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// e.g. `CN=ADFS Signing - adfs.example.com`, in certificate order, best effort.
    pub subject: String,
    /// Lowercase hex of SHA-256 over `der`.
    pub sha256_fingerprint: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    #[error("certificate DER ends before a declared length")]
    Truncated,
    #[error("certificate DER uses an indefinite length")]
    IndefiniteLength,
    #[error("certificate DER has a non-minimal or oversized length")]
    BadLength,
    #[error("certificate DER has tag {found:#04x} where {expected:#04x} was expected")]
    UnexpectedTag { expected: u8, found: u8 },
    #[error("certificate DER uses a multi-byte tag")]
    UnsupportedTag,
    #[error("certificate DER has trailing bytes after {0}")]
    TrailingData(&'static str),
    #[error("certificate has a malformed {0}")]
    Malformed(&'static str),
    #[error("certificate validity time is malformed")]
    BadTime,
    #[error("certificate version {0} is not 1, 2 or 3")]
    BadVersion(u8),
    #[error("certificate public key algorithm {0} is not supported (RSA, EC P-256, EC P-384)")]
    UnsupportedKeyAlgorithm(String),
    #[error("certificate public key is malformed: {0}")]
    BadPublicKey(&'static str),
}

const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_PRINTABLE_STRING: u8 = 0x13;
const TAG_TELETEX_STRING: u8 = 0x14;
const TAG_IA5_STRING: u8 = 0x16;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_VISIBLE_STRING: u8 = 0x1a;
const TAG_UNIVERSAL_STRING: u8 = 0x1c;
const TAG_BMP_STRING: u8 = 0x1e;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_VERSION: u8 = 0xa0;
const TAG_ISSUER_UID: u8 = 0x81;
const TAG_SUBJECT_UID: u8 = 0x82;
const TAG_EXTENSIONS: u8 = 0xa3;

// DER encodings of the OIDs' contents.
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

/// A cursor over DER bytes.
struct Der<'a> {
    data: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CertError> {
        if n > self.data.len() {
            return Err(CertError::Truncated);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, CertError> {
        let b = self.take(1)?;
        b.first().copied().ok_or(CertError::Truncated)
    }

    /// One TLV: its tag and contents.
    fn any(&mut self) -> Result<(u8, &'a [u8]), CertError> {
        let tag = self.byte()?;
        if tag & 0x1f == 0x1f {
            return Err(CertError::UnsupportedTag);
        }
        let first = self.byte()?;
        let len = match first {
            0x00..=0x7f => usize::from(first),
            0x80 => return Err(CertError::IndefiniteLength),
            _ => {
                let n = usize::from(first & 0x7f);
                if n > 4 {
                    return Err(CertError::BadLength);
                }
                let bytes = self.take(n)?;
                if bytes.first() == Some(&0) {
                    return Err(CertError::BadLength);
                }
                let len = bytes
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
                if len < 0x80 {
                    return Err(CertError::BadLength);
                }
                len
            }
        };
        Ok((tag, self.take(len)?))
    }

    fn expect(&mut self, expected: u8) -> Result<&'a [u8], CertError> {
        let found = self.peek_tag().ok_or(CertError::Truncated)?;
        if found != expected {
            return Err(CertError::UnexpectedTag { expected, found });
        }
        Ok(self.any()?.1)
    }

    fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, CertError> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag).map(Some)
        } else {
            Ok(None)
        }
    }

    fn finish(&self, what: &'static str) -> Result<(), CertError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(CertError::TrailingData(what))
        }
    }
}

/// The bit length of the modulus of an RSAPublicKey (PKCS#1 DER, as in
/// [`Certificate::public_key`]), or None when it is not one.
pub fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Option<usize> {
    let seq = Der::new(rsa_public_key).expect(0x30).ok()?;
    let n = Der::new(seq).expect(0x02).ok()?;
    let first = n.iter().position(|&b| b != 0)?;
    let n = &n[first..];
    Some(n.len() * 8 - n[0].leading_zeros() as usize)
}

/// Parse one DER certificate (no PEM, no trailing bytes).
pub fn parse_certificate(der: &[u8]) -> Result<Certificate, CertError> {
    let mut outer = Der::new(der);
    let cert = outer.expect(TAG_SEQUENCE)?;
    outer.finish("the certificate")?;

    let mut cert = Der::new(cert);
    let tbs = cert.expect(TAG_SEQUENCE)?;
    let outer_sig_alg = cert.expect(TAG_SEQUENCE)?;
    let sig = cert.expect(TAG_BIT_STRING)?;
    cert.finish("the signature")?;
    bit_string(sig, "signature")?;
    algorithm_identifier(outer_sig_alg)?;

    let mut tbs = Der::new(tbs);
    if let Some(v) = tbs.optional(TAG_VERSION)? {
        let mut v = Der::new(v);
        let n = v.expect(TAG_INTEGER)?;
        v.finish("the version")?;
        match n {
            [0..=2] => {}
            [n] => return Err(CertError::BadVersion(n.saturating_add(1))),
            _ => return Err(CertError::Malformed("version")),
        }
    }
    let serial = tbs.expect(TAG_INTEGER)?;
    if serial.is_empty() || serial.len() > 64 {
        return Err(CertError::Malformed("serial number"));
    }
    let tbs_sig_alg = tbs.expect(TAG_SEQUENCE)?;
    if tbs_sig_alg != outer_sig_alg {
        return Err(CertError::Malformed(
            "signature algorithm (inner and outer differ)",
        ));
    }
    name(tbs.expect(TAG_SEQUENCE)?)?;
    let mut validity = Der::new(tbs.expect(TAG_SEQUENCE)?);
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    validity.finish("the validity")?;
    let subject = name(tbs.expect(TAG_SEQUENCE)?)?;
    let (algorithm, public_key) = subject_public_key_info(tbs.expect(TAG_SEQUENCE)?)?;
    if let Some(uid) = tbs.optional(TAG_ISSUER_UID)? {
        bit_string(uid, "issuer unique id")?;
    }
    if let Some(uid) = tbs.optional(TAG_SUBJECT_UID)? {
        bit_string(uid, "subject unique id")?;
    }
    if let Some(ext) = tbs.optional(TAG_EXTENSIONS)? {
        extensions(ext)?;
    }
    tbs.finish("the TBSCertificate")?;

    Ok(Certificate {
        der: der.to_vec(),
        algorithm,
        public_key: public_key.to_vec(),
        not_before,
        not_after,
        subject,
        sha256_fingerprint: hex::encode(Sha256::digest(der)),
    })
}

/// The contents of a BIT STRING without unused bits.
fn bit_string<'a>(contents: &'a [u8], what: &'static str) -> Result<&'a [u8], CertError> {
    match contents.split_first() {
        Some((0, rest)) => Ok(rest),
        _ => Err(CertError::Malformed(what)),
    }
}

/// An algorithm's OID contents and its parameters' TLV (tag, contents), if any.
type Algorithm<'a> = (&'a [u8], Option<(u8, &'a [u8])>);

/// `SEQUENCE { algorithm OID, parameters ANY OPTIONAL }`.
fn algorithm_identifier(contents: &[u8]) -> Result<Algorithm<'_>, CertError> {
    let mut d = Der::new(contents);
    let oid = d.expect(TAG_OID)?;
    oid_text(oid)?;
    let params = if d.is_empty() { None } else { Some(d.any()?) };
    d.finish("an algorithm identifier")?;
    Ok((oid, params))
}

fn subject_public_key_info(contents: &[u8]) -> Result<(KeyAlgorithm, &[u8]), CertError> {
    let mut d = Der::new(contents);
    let (oid, params) = algorithm_identifier(d.expect(TAG_SEQUENCE)?)?;
    let key = bit_string(d.expect(TAG_BIT_STRING)?, "subjectPublicKey")?;
    d.finish("the subjectPublicKeyInfo")?;
    match oid {
        OID_RSA_ENCRYPTION => {
            if !matches!(params, None | Some((TAG_NULL, []))) {
                return Err(CertError::BadPublicKey("RSA parameters are not NULL"));
            }
            rsa_public_key(key)?;
            Ok((KeyAlgorithm::Rsa, key))
        }
        OID_EC_PUBLIC_KEY => {
            let (algorithm, len) = match params {
                Some((TAG_OID, OID_P256)) => (KeyAlgorithm::EcP256, 65),
                Some((TAG_OID, OID_P384)) => (KeyAlgorithm::EcP384, 97),
                Some((TAG_OID, other)) => {
                    return Err(CertError::UnsupportedKeyAlgorithm(format!(
                        "EC on curve {}",
                        oid_text(other)?
                    )))
                }
                _ => return Err(CertError::BadPublicKey("EC key without a named curve")),
            };
            if key.len() != len || key.first() != Some(&0x04) {
                return Err(CertError::BadPublicKey("EC point is not uncompressed"));
            }
            Ok((algorithm, key))
        }
        other => Err(CertError::UnsupportedKeyAlgorithm(oid_text(other)?)),
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`,
/// both positive and minimally encoded.
fn rsa_public_key(der: &[u8]) -> Result<(), CertError> {
    let mut outer = Der::new(der);
    let mut d = Der::new(outer.expect(TAG_SEQUENCE)?);
    outer.finish("the RSA public key")?;
    for _ in 0..2 {
        let n = d.expect(TAG_INTEGER)?;
        match n {
            [] => return Err(CertError::BadPublicKey("empty integer")),
            [b, ..] if b & 0x80 != 0 => return Err(CertError::BadPublicKey("negative integer")),
            [0, b, ..] if b & 0x80 == 0 => {
                return Err(CertError::BadPublicKey("non-minimal integer"))
            }
            [0] => return Err(CertError::BadPublicKey("zero")),
            _ => {}
        }
    }
    d.finish("the RSA public key")
}

fn extensions(contents: &[u8]) -> Result<(), CertError> {
    let mut outer = Der::new(contents);
    let mut list = Der::new(outer.expect(TAG_SEQUENCE)?);
    outer.finish("the extensions")?;
    while !list.is_empty() {
        let mut ext = Der::new(list.expect(TAG_SEQUENCE)?);
        oid_text(ext.expect(TAG_OID)?)?;
        if let Some(critical) = ext.optional(TAG_BOOLEAN)? {
            if !matches!(critical, [0x00] | [0xff]) {
                return Err(CertError::Malformed("extension criticality"));
            }
        }
        ext.expect(TAG_OCTET_STRING)?;
        ext.finish("an extension")?;
    }
    Ok(())
}

fn time(d: &mut Der<'_>) -> Result<DateTime<Utc>, CertError> {
    let tag = d.peek_tag().ok_or(CertError::Truncated)?;
    let text = match tag {
        TAG_UTC_TIME => d.expect(TAG_UTC_TIME)?,
        TAG_GENERALIZED_TIME => d.expect(TAG_GENERALIZED_TIME)?,
        found => {
            return Err(CertError::UnexpectedTag {
                expected: TAG_UTC_TIME,
                found,
            })
        }
    };
    // UTCTime YYMMDDHHMMSSZ, GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280 4.1.2.5).
    let (digits, year_len) = match (tag, text.len()) {
        (TAG_UTC_TIME, 13) => (&text[..12], 2),
        (TAG_GENERALIZED_TIME, 15) => (&text[..14], 4),
        _ => return Err(CertError::BadTime),
    };
    if text.last() != Some(&b'Z') || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CertError::BadTime);
    }
    let num = |range: std::ops::Range<usize>| -> u32 {
        digits[range]
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
    };
    let mut year = num(0..year_len);
    if year_len == 2 {
        year += if year >= 50 { 1900 } else { 2000 };
    }
    let at = year_len;
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(year).map_err(|_| CertError::BadTime)?,
        num(at..at + 2),
        num(at + 2..at + 4),
    )
    .ok_or(CertError::BadTime)?;
    let datetime = date
        .and_hms_opt(
            num(at + 4..at + 6),
            num(at + 6..at + 8),
            num(at + 8..at + 10),
        )
        .ok_or(CertError::BadTime)?;
    Ok(datetime.and_utc())
}

/// `Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }` as
/// `CN=…, O=…` in certificate order.
fn name(contents: &[u8]) -> Result<String, CertError> {
    let mut parts = Vec::new();
    let mut rdns = Der::new(contents);
    while !rdns.is_empty() {
        let mut set = Der::new(rdns.expect(TAG_SET)?);
        if set.is_empty() {
            return Err(CertError::Malformed("name (empty RDN)"));
        }
        while !set.is_empty() {
            let mut atv = Der::new(set.expect(TAG_SEQUENCE)?);
            let oid = atv.expect(TAG_OID)?;
            let (tag, value) = atv.any()?;
            atv.finish("a name attribute")?;
            let label = match attribute_label(oid) {
                Some(l) => l.to_string(),
                None => oid_text(oid)?,
            };
            parts.push(format!("{label}={}", string_value(tag, value)));
        }
    }
    Ok(parts.join(", "))
}

fn attribute_label(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x04] => "SN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "street",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x0c] => "title",
        [0x55, 0x04, 0x2a] => "GN",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        _ => return None,
    })
}

/// A directory string for display: control characters become U+FFFD, and
/// values of other types are shown as `#` and hex (as RFC 4514 does).
fn string_value(tag: u8, value: &[u8]) -> String {
    let text = match tag {
        TAG_UTF8_STRING | TAG_PRINTABLE_STRING | TAG_IA5_STRING | TAG_VISIBLE_STRING => {
            String::from_utf8_lossy(value).into_owned()
        }
        // T.61 in theory, Latin-1 in practice.
        TAG_TELETEX_STRING => value.iter().map(|b| char::from(*b)).collect(),
        TAG_BMP_STRING if value.len() % 2 == 0 => char::decode_utf16(
            value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        TAG_UNIVERSAL_STRING if value.len() % 4 == 0 => value
            .chunks_exact(4)
            .map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => return format!("#{}", hex::encode(value)),
    };
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// Dotted text of an OID's contents; refuses empty, truncated and
/// non-minimal encodings and arcs that do not fit in 64 bits.
fn oid_text(oid: &[u8]) -> Result<String, CertError> {
    if oid.is_empty() || oid.last().is_some_and(|b| b & 0x80 != 0) {
        return Err(CertError::Malformed("object identifier"));
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut current: u64 = 0;
    let mut start = true;
    for &b in oid {
        if start && b == 0x80 {
            return Err(CertError::Malformed("object identifier"));
        }
        if current > (u64::MAX >> 7) {
            return Err(CertError::Malformed("object identifier"));
        }
        current = (current << 7) | u64::from(b & 0x7f);
        start = b & 0x80 == 0;
        if start {
            if arcs.is_empty() {
                let (first, second) = match current {
                    0..=39 => (0, current),
                    40..=79 => (1, current - 40),
                    _ => (2, current - 80),
                };
                arcs.push(first);
                arcs.push(second);
            } else {
                arcs.push(current);
            }
            current = 0;
        }
    }
    Ok(arcs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use base64::Engine;
    use ring::signature::{self, KeyPair, UnparsedPublicKey};

    // Real-world IdP signing certificates, from the test data of crewjam/saml
    // (BSD-2-Clause, Copyright (c) 2015, Ross Kinder): an Okta developer
    // tenant's (v3, no extensions) and Secureworks' (v3, with extensions,
    // signed with SHA-512). Expected values cross-checked with `openssl x509`.
    const OKTA: &str = include_str!("testdata/okta-signing.b64");
    const SECUREWORKS: &str = include_str!("testdata/secureworks-signing.b64");

    fn b64(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn real_world_okta_certificate() {
        let der = b64(OKTA);
        let c = parse_certificate(&der).unwrap();
        assert_eq!(c.algorithm, KeyAlgorithm::Rsa);
        assert_eq!(
            c.subject,
            "C=US, ST=California, L=San Francisco, O=Okta, OU=SSOProvider, CN=dev-513394, emailAddress=info@okta.com"
        );
        assert_eq!(c.not_before, utc("2018-09-07T14:32:59Z"));
        assert_eq!(c.not_after, utc("2028-09-07T14:33:59Z"));
        assert_eq!(
            c.sha256_fingerprint,
            "d40df01ccede49d207cb6d8abd15770a4b6eca14a85448c2959a98f85dc31ed4"
        );
        // `openssl rsa -pubin -RSAPublicKey_out -outform DER | sha256sum`
        assert_eq!(
            hex::encode(Sha256::digest(&c.public_key)),
            "f4fcc7451425566c1b3a672d63790834d9a9f242dcfde775368e7a3e2da9c2f1"
        );
        assert_eq!(c.der, der);
    }

    #[test]
    fn real_world_certificate_with_extensions() {
        let c = parse_certificate(&b64(SECUREWORKS)).unwrap();
        assert_eq!(c.algorithm, KeyAlgorithm::Rsa);
        assert_eq!(
            c.subject,
            "C=US, ST=Georgia, L=Atlanta, O=Secureworks, Inc., OU=Security Engineering, CN=idp.secureworks.com-signature, emailAddress=prodcerts@secureworks.com"
        );
        assert_eq!(c.not_before, utc("2016-05-11T11:12:37Z"));
        assert_eq!(c.not_after, utc("2018-05-11T11:12:37Z"));
        assert_eq!(
            c.sha256_fingerprint,
            "fe448e4acbc0ec6f4c22b934f01e5b064d6b0c1761243f283d5aba18de10cc51"
        );
        assert_eq!(
            hex::encode(Sha256::digest(&c.public_key)),
            "44a1eb0e7a51b1c3b89503ab1c239b8cb9e90154f301cb03fef8d2a422f21e0d"
        );
    }

    /// The base64 body of a PEM block, decoded.
    fn pem_body(pem: &str) -> Vec<u8> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }

    #[test]
    fn rsa_public_key_verifies_a_ring_signature_by_its_key() {
        let key = ring::signature::RsaKeyPair::from_pkcs8(&pem_body(include_str!(
            "../devidp/testdata/openssl-key.pem"
        )))
        .unwrap();
        let c = parse_certificate(&pem_body(include_str!(
            "../devidp/testdata/openssl-cert.pem"
        )))
        .unwrap();
        assert_eq!(c.algorithm, KeyAlgorithm::Rsa);
        assert_eq!(c.subject, "CN=openssl idp");
        let rng = ring::rand::SystemRandom::new();
        let mut sig = vec![0; key.public().modulus_len()];
        key.sign(&signature::RSA_PKCS1_SHA256, &rng, b"signed info", &mut sig)
            .unwrap();
        let pk = UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &c.public_key);
        pk.verify(b"signed info", &sig).unwrap();
        assert!(pk.verify(b"other info", &sig).is_err());
        // Not the Okta key.
        let okta = parse_certificate(&b64(OKTA)).unwrap();
        assert!(
            UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &okta.public_key)
                .verify(b"signed info", &sig)
                .is_err()
        );
    }

    fn rcgen_cert(alg: &'static rcgen::SignatureAlgorithm) -> (rcgen::KeyPair, Vec<u8>) {
        let kp = rcgen::KeyPair::generate_for(alg).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["idp.example.com".into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "ADFS Signing - adfs.example.com");
        dn.push(rcgen::DnType::OrganizationName, "Example");
        params.distinguished_name = dn;
        params.not_before = rcgen::date_time_ymd(2024, 2, 29);
        params.not_after = rcgen::date_time_ymd(2051, 1, 1);
        let cert = params.self_signed(&kp).unwrap();
        (kp, cert.der().to_vec())
    }

    #[test]
    fn ec_certificates_from_rcgen() {
        let rng = ring::rand::SystemRandom::new();
        for (alg, expect, signing, verifying) in [
            (
                &rcgen::PKCS_ECDSA_P256_SHA256,
                KeyAlgorithm::EcP256,
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &signature::ECDSA_P256_SHA256_FIXED,
            ),
            (
                &rcgen::PKCS_ECDSA_P384_SHA384,
                KeyAlgorithm::EcP384,
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                &signature::ECDSA_P384_SHA384_FIXED,
            ),
        ] {
            let (kp, der) = rcgen_cert(alg);
            let c = parse_certificate(&der).unwrap();
            assert_eq!(c.algorithm, expect);
            assert_eq!(c.subject, "CN=ADFS Signing - adfs.example.com, O=Example");
            assert_eq!(c.not_before, utc("2024-02-29T00:00:00Z"));
            // 2051 is past UTCTime's range: a GeneralizedTime.
            assert_eq!(c.not_after, utc("2051-01-01T00:00:00Z"));
            let ring_kp =
                signature::EcdsaKeyPair::from_pkcs8(signing, &kp.serialize_der(), &rng).unwrap();
            assert_eq!(c.public_key, ring_kp.public_key().as_ref());
            let sig = ring_kp.sign(&rng, b"digest me").unwrap();
            UnparsedPublicKey::new(verifying, &c.public_key)
                .verify(b"digest me", sig.as_ref())
                .unwrap();
        }
    }

    #[test]
    fn unsupported_key_algorithms_are_named() {
        let (_, der) = rcgen_cert(&rcgen::PKCS_ED25519);
        assert_eq!(
            parse_certificate(&der),
            Err(CertError::UnsupportedKeyAlgorithm("1.3.101.112".into()))
        );
    }

    #[test]
    fn hostile_inputs_are_errors() {
        let good = b64(OKTA);
        assert!(parse_certificate(&good).is_ok());
        // Every truncation.
        for n in 0..good.len() {
            assert!(parse_certificate(&good[..n]).is_err(), "truncated at {n}");
        }
        // Trailing garbage.
        let mut t = good.clone();
        t.push(0);
        assert_eq!(
            parse_certificate(&t),
            Err(CertError::TrailingData("the certificate"))
        );
        // Indefinite length.
        assert_eq!(
            parse_certificate(&[0x30, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00]),
            Err(CertError::IndefiniteLength)
        );
        // Huge lengths: more than four length bytes, and four that overrun.
        assert_eq!(
            parse_certificate(&[0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(CertError::BadLength)
        );
        assert_eq!(
            parse_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]),
            Err(CertError::Truncated)
        );
        // Non-minimal lengths.
        assert_eq!(
            parse_certificate(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0]),
            Err(CertError::BadLength)
        );
        assert_eq!(
            parse_certificate(&[0x30, 0x82, 0x00, 0x85]),
            Err(CertError::BadLength)
        );
        // Multi-byte tag, wrong outer tag, empty input.
        assert_eq!(
            Der::new(&[0x3f, 0x01, 0x00]).any().map(|_| ()),
            Err(CertError::UnsupportedTag)
        );
        assert!(parse_certificate(&[0x3f, 0x01, 0x00]).is_err());
        assert!(matches!(
            parse_certificate(&[0x31, 0x00]),
            Err(CertError::UnexpectedTag { .. })
        ));
        assert_eq!(parse_certificate(&[]), Err(CertError::Truncated));
        // The outer length one longer than the data, and one shorter.
        let mut longer = good.clone();
        longer[3] += 1;
        assert_eq!(parse_certificate(&longer), Err(CertError::Truncated));
        let mut shorter = good.clone();
        shorter[3] -= 1;
        assert!(parse_certificate(&shorter).is_err());
        // Every single-byte corruption either parses or fails; none panics,
        // and together they finish quickly.
        let start = std::time::Instant::now();
        for i in 0..good.len() {
            for v in [0x00, 0x80, 0xff, good[i] ^ 0x01] {
                let mut m = good.clone();
                m[i] = v;
                let _ = parse_certificate(&m);
            }
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        // Megabytes of nested headers are refused at the first one.
        let mut deep = Vec::new();
        for _ in 0..100_000 {
            deep.extend_from_slice(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]);
        }
        assert_eq!(parse_certificate(&deep), Err(CertError::Truncated));
    }

    #[test]
    fn times_are_strict() {
        let t = |tag: u8, s: &str| {
            let mut v = vec![tag, s.len() as u8];
            v.extend_from_slice(s.as_bytes());
            time(&mut Der::new(&v))
        };
        assert_eq!(
            t(TAG_UTC_TIME, "490101000000Z").unwrap(),
            utc("2049-01-01T00:00:00Z")
        );
        assert_eq!(
            t(TAG_UTC_TIME, "500101000000Z").unwrap(),
            utc("1950-01-01T00:00:00Z")
        );
        assert_eq!(
            t(TAG_GENERALIZED_TIME, "20991231235959Z").unwrap(),
            utc("2099-12-31T23:59:59Z")
        );
        for (tag, bad) in [
            (TAG_UTC_TIME, "490101000000"),
            (TAG_UTC_TIME, "4901010000Z"),
            (TAG_UTC_TIME, "491301000000Z"),
            (TAG_UTC_TIME, "490230000000Z"),
            (TAG_UTC_TIME, "490101250000Z"),
            (TAG_UTC_TIME, "4901010000+0Z"),
            (TAG_GENERALIZED_TIME, "490101000000Z"),
            (TAG_GENERALIZED_TIME, "20991231235959.5Z"),
        ] {
            assert_eq!(t(tag, bad), Err(CertError::BadTime), "{bad}");
        }
    }

    #[test]
    fn oids() {
        assert_eq!(
            oid_text(OID_RSA_ENCRYPTION).unwrap(),
            "1.2.840.113549.1.1.1"
        );
        assert_eq!(oid_text(OID_P384).unwrap(), "1.3.132.0.34");
        assert_eq!(oid_text(&[0x88, 0x37]).unwrap(), "2.999");
        assert!(oid_text(&[]).is_err());
        assert!(oid_text(&[0x2a, 0x86]).is_err());
        assert!(oid_text(&[0x2a, 0x80, 0x01]).is_err());
        assert!(oid_text(&[0xff; 20]).is_err());
    }

    #[test]
    fn modulus_bits_are_read_from_the_key() {
        // SEQUENCE { INTEGER 0x00 0xC0 .. (1024 bits), INTEGER 65537 }
        let mut n = vec![0x00, 0xC0];
        n.extend(std::iter::repeat_n(0x11, 127));
        let mut seq = vec![0x02, 0x81, n.len() as u8];
        seq.extend(&n);
        seq.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        let mut der = vec![0x30, 0x81, seq.len() as u8];
        der.extend(&seq);
        assert_eq!(rsa_modulus_bits(&der), Some(1024));
        assert_eq!(rsa_modulus_bits(&der[..10]), None);
        assert_eq!(rsa_modulus_bits(&[0x31, 0x00]), None);
    }
}
