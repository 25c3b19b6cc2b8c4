//! Minting: unique, validly signed, IdP-initiated ADFS-shaped responses (the
//! Assertion signed with RSA-SHA256, three roles, three groups, as in
//! backend/benches/memory.rs), each ready as a form body for `POST /saml/acs`.

use crate::setup::Settings;
use anyhow::Context;
use chrono::{Duration, SubsecRound, Utc};
use hyper::body::Bytes;
use saml_broker::devidp::{ResponseSpec, SigningKey};
use saml_broker::saml::claims::{ATTR_GROUP, ATTR_ROLE};
use std::path::Path;

const ROLES: [&str; 3] = [
    "arn:aws:iam::111111111111:role/Dev,arn:aws:iam::111111111111:saml-provider/ADFS",
    "arn:aws:iam::222222222222:role/ReadOnly,arn:aws:iam::222222222222:saml-provider/ADFS",
    "arn:aws:iam::333333333333:role/Admin,arn:aws:iam::333333333333:saml-provider/ADFS",
];
const GROUPS: [&str; 3] = ["Developers", "AWS-ReadOnly", "Staff"];

/// Everything needed to mint: the key from `setup` and the broker's URLs.
#[derive(Clone)]
pub struct Minter {
    key: SigningKey,
    idp: String,
    acs: String,
    audience: String,
    /// How long SubjectConfirmationData stays valid after minting (ADFS: 5 minutes).
    validity: Duration,
}

impl Minter {
    pub fn load(dir: &Path, settings: &Settings, validity_secs: u64) -> anyhow::Result<Self> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
        };
        let key = SigningKey::from_pem(&read(crate::KEY_FILE)?, &read(crate::CERT_FILE)?)
            .context("loading the IdP key written by `loadgen setup`")?;
        Ok(Self {
            key,
            idp: settings.idp_entity_id.clone(),
            acs: settings.acs_url.clone(),
            audience: settings.sp_entity_id.clone(),
            validity: Duration::seconds(i64::try_from(validity_secs).unwrap_or(i64::MAX / 2)),
        })
    }

    /// Login number `n`: user `lg{n}@example.com`, fresh random response and
    /// assertion ids, issued now, as a form body `SAMLResponse=…` (no RelayState).
    pub fn mint(&self, n: u64) -> anyhow::Result<Bytes> {
        let now = Utc::now().trunc_subsecs(3);
        let name = format!("lg{n}@example.com");
        let mut spec = ResponseSpec::adfs(now, &self.idp, &self.acs, &self.audience, &name)
            .with_attribute(ATTR_ROLE, &ROLES)
            .with_attribute(ATTR_GROUP, &GROUPS);
        spec.scd_not_on_or_after = now + self.validity;
        spec.not_on_or_after = spec.not_on_or_after.max(now + self.validity);
        let b64 = spec.sign_base64(&self.key)?;
        Ok(Bytes::from(form_body(&b64)))
    }

    /// Logins `first..first + count` on all the cores this process may use.
    pub fn mint_many(&self, first: u64, count: usize) -> anyhow::Result<Vec<Bytes>> {
        let threads = std::thread::available_parallelism()
            .map(std::num::NonZeroUsize::get)
            .unwrap_or(1)
            .min(count.max(1));
        let per = count.div_ceil(threads);
        let chunks: Vec<anyhow::Result<Vec<Bytes>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let start = t * per;
                    let end = count.min(start + per);
                    s.spawn(move || {
                        (start..end)
                            .map(|i| self.mint(first + i as u64))
                            .collect::<anyhow::Result<Vec<_>>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a minting thread panicked")))
                })
                .collect()
        });
        let mut out = Vec::with_capacity(count);
        for c in chunks {
            out.extend(c?);
        }
        Ok(out)
    }
}

/// `SAMLResponse=<base64>` form-encoded: of the base64 alphabet only `+`, `/`
/// and `=` need escaping.
fn form_body(b64: &str) -> String {
    let mut s = String::with_capacity(b64.len() + b64.len() / 16 + 16);
    s.push_str("SAMLResponse=");
    for c in b64.chars() {
        match c {
            '+' => s.push_str("%2B"),
            '/' => s.push_str("%2F"),
            '=' => s.push_str("%3D"),
            c => s.push(c),
        }
    }
    s
}
