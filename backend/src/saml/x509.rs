//! TEMPORARY minimal certificate reader (replaced by the full module).

pub enum KeyAlgorithm {
    Rsa,
    EcP256,
    EcP384,
}

pub struct Certificate {
    pub algorithm: KeyAlgorithm,
    pub public_key: Vec<u8>,
}

#[derive(Debug)]
pub struct CertError;

fn tlv(d: &[u8]) -> Result<(u8, &[u8], &[u8]), CertError> {
    let (&tag, rest) = d.split_first().ok_or(CertError)?;
    let (&l, rest) = rest.split_first().ok_or(CertError)?;
    let (len, rest) = if l < 0x80 {
        (l as usize, rest)
    } else {
        let n = (l & 0x7f) as usize;
        if n == 0 || n > 3 || rest.len() < n {
            return Err(CertError);
        }
        (
            rest[..n].iter().fold(0usize, |a, &b| a << 8 | b as usize),
            &rest[n..],
        )
    };
    if rest.len() < len {
        return Err(CertError);
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

pub fn parse_certificate(der: &[u8]) -> Result<Certificate, CertError> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r;
    }
    for _ in 0..5 {
        rest = tlv(rest)?.2; // serial, signature, issuer, validity, subject
    }
    let (_, spki, _) = tlv(rest)?;
    let (_, alg, r) = tlv(spki)?;
    let (_, bits, _) = tlv(r)?;
    let (_, oid, params) = tlv(alg)?;
    let key = bits.get(1..).ok_or(CertError)?.to_vec();
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    let algorithm = if oid == RSA {
        KeyAlgorithm::Rsa
    } else if oid == EC {
        match tlv(params)?.1 {
            p if p == P256 => KeyAlgorithm::EcP256,
            p if p == P384 => KeyAlgorithm::EcP384,
            _ => return Err(CertError),
        }
    } else {
        return Err(CertError);
    };
    Ok(Certificate {
        algorithm,
        public_key: key,
    })
}
