//! AEAD (AES-256-GCM) for what the session store must not hold in the clear:
//! AWS credentials and the SAMLResponse kept for a role switch.

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use std::path::Path;

const NONCE: usize = 12;
const TAG: usize = 16;

#[derive(Clone)]
pub struct SessionCipher {
    key: LessSafeKey,
}

impl std::fmt::Debug for SessionCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionCipher([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("session key: {0}")]
    Key(String),
    #[error("sealed value could not be opened (wrong key or tampered)")]
    Open,
    #[error("encryption failed")]
    Seal,
}

impl SessionCipher {
    pub fn from_base64(b64: &str) -> Result<Self, CipherError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| CipherError::Key(format!("session.key is not base64: {e}")))?;
        let key: [u8; 32] = raw.try_into().map_err(|_| {
            CipherError::Key(
                "session.key must decode to exactly 32 bytes (openssl rand -base64 32)".into(),
            )
        })?;
        Self::from_key(&key)
    }

    fn from_key(key: &[u8; 32]) -> Result<Self, CipherError> {
        // AES-256 takes any 32-byte key; ring refuses only other lengths.
        let unbound = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| CipherError::Key("AES-256-GCM refused the key".into()))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Read the key file, or create it (0600) with a fresh random key and a warning.
    pub fn load_or_create(path: &Path) -> Result<Self, CipherError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                let b64 = base64::engine::general_purpose::STANDARD.encode(key);
                write_private(path, b64.as_bytes()).map_err(|e| {
                    CipherError::Key(format!("cannot create {}: {e}", path.display()))
                })?;
                tracing::warn!(path = %path.display(), "generated a new session encryption key; several instances must share one key: set session.key explicitly");
                Self::from_key(&key)
            }
            Err(e) => Err(CipherError::Key(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Encrypt `plain`, binding it to `aad` (e.g. the value's purpose).
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<String, CipherError> {
        self.seal_with_nonce(rand::random(), plain, aad)
    }

    /// The sealed format: base64 (standard alphabet, no padding) of
    /// nonce (12 bytes) || ciphertext || tag (16 bytes).
    fn seal_with_nonce(
        &self,
        nonce: [u8; NONCE],
        plain: &[u8],
        aad: &[u8],
    ) -> Result<String, CipherError> {
        let mut out = Vec::with_capacity(NONCE + plain.len() + TAG);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let mut tail = out.split_off(NONCE);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut tail,
            )
            .map_err(|_| CipherError::Seal)?;
        out.append(&mut tail);
        Ok(base64::engine::general_purpose::STANDARD_NO_PAD.encode(out))
    }

    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, CipherError> {
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(sealed)
            .map_err(|_| CipherError::Open)?;
        if raw.len() < NONCE + TAG {
            return Err(CipherError::Open);
        }
        let (nonce, rest) = raw.split_at(NONCE);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CipherError::Open)?;
        let mut in_out = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| CipherError::Open)?;
        Ok(plain.to_vec())
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let c = SessionCipher::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )
        .unwrap();
        let s = c.seal(b"secret", b"creds").unwrap();
        assert!(!s.contains("secret"));
        assert_eq!(c.open(&s, b"creds").unwrap(), b"secret");
        assert!(c.open(&s, b"other purpose").is_err());
        let mut bytes = s.into_bytes();
        bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
        assert!(c
            .open(&String::from_utf8(bytes).unwrap(), b"creds")
            .is_err());
        let other = SessionCipher::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([8u8; 32]),
        )
        .unwrap();
        assert!(other.open(&c.seal(b"x", b"a").unwrap(), b"a").is_err());
    }

    /// Values sealed by earlier versions must still open: this vector was made
    /// with the OpenSSL implementation (and cross-checked with Python's
    /// `cryptography` AESGCM), key = 32 x 0x07, nonce = 01..0c.
    #[test]
    fn sealed_format_is_stable() {
        let c = SessionCipher::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )
        .unwrap();
        let nonce: [u8; 12] = core::array::from_fn(|i| i as u8 + 1);
        let v1 = "AQIDBAUGBwgJCgsMyBmL7A+ewk+XW2Z7+9PKIbiWHq4PLtq42BBV13fzRPzxdQ";
        let v2 = "AQIDBAUGBwgJCgsMGxH2tIbFz2c/1G9rgwSYlw";
        assert_eq!(
            c.seal_with_nonce(nonce, b"secret credentials", b"creds")
                .unwrap(),
            v1
        );
        assert_eq!(c.seal_with_nonce(nonce, b"", b"").unwrap(), v2);
        assert_eq!(c.open(v1, b"creds").unwrap(), b"secret credentials");
        assert_eq!(c.open(v2, b"").unwrap(), b"");
        assert!(c.open(v1, b"").is_err());
        // Shorter than nonce + tag, and not base64.
        assert!(c.open("AQIDBAUGBwgJCgsM", b"").is_err());
        assert!(c.open("***", b"").is_err());
    }

    #[test]
    fn key_must_be_32_bytes() {
        assert!(SessionCipher::from_base64("c2hvcnQ=").is_err());
    }
}
