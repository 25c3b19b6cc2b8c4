//! Verification of a SAMLResponse posted to the ACS.
//!
//! Order of work: size caps and base64, the broker's own XML parse (refusing
//! DOCTYPE, entities and processing instructions before libxml2/xmlsec see the
//! bytes), structural checks (one assertion, same-document references, the
//! algorithm allow-list), signature verification by samael/xmlsec against the
//! pinned metadata certificates only, and then every protocol check on the
//! *signed* content that xmlsec hands back. Identity and roles are read from
//! that signed content and nowhere else.
//!
//! samael is called in `ReduceMode::PreDigest`: it returns the exact bytes the
//! signature digest covers. That mode also avoids the per-call libxml leak of
//! samael 0.0.22's default reduce step (see docs/samael-leak.md).

use super::claims::{Claims, ClaimsError};
use super::dsig::{self, DsigError, VerifyingKey};
use super::metadata::IdpMetadata;
use super::xml::{self, Element, NS_ASSERTION, NS_DSIG, NS_PROTOCOL};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Why a response was refused. `Display` is the technical reason (logs and
/// audit); [`SamlError::user_message`] is what the person is shown.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SamlError {
    #[error("SAMLResponse missing")]
    Missing,
    #[error("SAMLResponse too large: {0} bytes")]
    TooLarge(usize),
    #[error("SAMLResponse is not valid base64")]
    Base64,
    #[error("SAMLResponse is not UTF-8")]
    Utf8,
    #[error("XML refused: {0}")]
    Xml(#[from] xml::XmlError),
    #[error("root element is not a SAML 2.0 protocol Response")]
    NotAResponse,
    #[error("response carries {0} assertions; exactly one is required")]
    AssertionCount(usize),
    #[error("encrypted assertions are not supported")]
    Encrypted,
    #[error("signature Reference URI {0:?} is not a same-document reference")]
    ExternalReference(String),
    #[error("signature algorithm {0} is not allowed")]
    WeakAlgorithm(String),
    #[error("no signature covers the assertion")]
    Unsigned,
    #[error("signature did not verify against the IdP metadata certificates: {0}")]
    BadSignature(String),
    #[error("the signed element is not the assertion in this response (signature wrapping)")]
    Wrapped,
    #[error("status is {0}, not Success")]
    Status(String),
    #[error("issuer {found:?} is not the IdP {expected:?}")]
    Issuer { found: String, expected: String },
    #[error("no AudienceRestriction in the assertion")]
    NoAudience,
    #[error("audience {0:?} does not include our entity id")]
    Audience(Vec<String>),
    #[error("Destination {0:?} is not our ACS URL")]
    Destination(String),
    #[error("Recipient {0:?} is not our ACS URL")]
    Recipient(String),
    #[error("no bearer SubjectConfirmation")]
    NoBearer,
    #[error("time window: {0}")]
    Time(String),
    #[error("InResponseTo {found:?} does not match the pending request {expected:?}")]
    InResponseTo { found: String, expected: String },
    #[error("unsolicited response (IdP-initiated) but idp.allow_idp_initiated is false")]
    Unsolicited,
    #[error("claims: {0}")]
    Claims(#[from] ClaimsError),
    #[error("malformed {0}")]
    Malformed(String),
    #[error("{0}")]
    Profile(String),
    #[error("verification passed its deadline of {0:?}")]
    Deadline(std::time::Duration),
}

impl From<DsigError> for SamlError {
    fn from(e: DsigError) -> Self {
        match e {
            DsigError::Algorithm(a) => Self::WeakAlgorithm(a),
            // `#id` naming another element is a wrapping attempt; anything
            // else (a URL, a file, an XPointer) is not a same-document reference.
            DsigError::Reference(uri) if is_bare_id_reference(&uri) => Self::Wrapped,
            DsigError::Reference(uri) => Self::ExternalReference(uri),
            e @ (DsigError::Digest | DsigError::Signature) => Self::BadSignature(e.to_string()),
            e @ DsigError::Profile(_) => Self::Profile(e.to_string()),
        }
    }
}

impl SamlError {
    /// A short, stable code for the audit trail and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "missing_response",
            Self::TooLarge(_) => "too_large",
            Self::Base64 | Self::Utf8 | Self::Malformed(_) => "malformed",
            Self::Xml(_) => "xml_refused",
            Self::NotAResponse => "not_a_response",
            Self::AssertionCount(_) => "assertion_count",
            Self::Encrypted => "encrypted_assertion",
            Self::ExternalReference(_) => "external_reference",
            Self::WeakAlgorithm(_) => "algorithm_not_allowed",
            Self::Unsigned => "unsigned",
            Self::BadSignature(_) => "bad_signature",
            Self::Wrapped => "signature_wrapping",
            Self::Status(_) => "status_not_success",
            Self::Issuer { .. } => "issuer_mismatch",
            Self::NoAudience => "audience_missing",
            Self::Audience(_) => "audience_mismatch",
            Self::Destination(_) => "destination_mismatch",
            Self::Recipient(_) => "recipient_mismatch",
            Self::NoBearer => "no_bearer_confirmation",
            Self::Time(_) => "time_window",
            Self::InResponseTo { .. } => "in_response_to_mismatch",
            Self::Unsolicited => "unsolicited_not_allowed",
            Self::Claims(_) => "claims",
            Self::Profile(_) => "signature_profile",
            Self::Deadline(_) => "deadline",
        }
    }

    /// Plain words for the person who tried to sign in.
    pub fn user_message(&self) -> &'static str {
        match self {
            Self::Missing => "No sign-in response was received. Please start the sign-in again.",
            Self::Issuer { .. } | Self::NoAudience | Self::Audience(_) | Self::Destination(_) | Self::Recipient(_) => {
                "This sign-in response was meant for a different application."
            }
            Self::Time(_) => "This sign-in response has expired or is not valid yet. Please sign in again; if it keeps happening, the clocks of the sign-in service and this application disagree.",
            Self::InResponseTo { expected, .. } if expected.is_empty() => {
                "This sign-in link has already been used, has expired, or was started in another browser. Please sign in again."
            }
            Self::InResponseTo { .. } => "This sign-in response does not belong to the sign-in you started. Please sign in again.",
            Self::Unsolicited => "Sign-in must be started from this application. Please use its sign-in link.",
            Self::Status(_) => "The sign-in service did not sign you in.",
            Self::Encrypted => "The sign-in service sent an encrypted response, which this application does not accept. Ask your administrator to turn off assertion encryption for it.",
            Self::WeakAlgorithm(_) => "The sign-in response was signed with an algorithm this application does not accept.",
            Self::Claims(_) => "The sign-in response does not say who you are.",
            _ => "The sign-in response could not be verified.",
        }
    }
}

/// What the ACS needs to know besides the response itself.
#[derive(Debug, Clone)]
pub struct VerifySettings {
    pub sp_entity_id: String,
    pub acs_url: String,
    pub max_clock_skew: Duration,
    pub allow_sha1: bool,
    pub allow_idp_initiated: bool,
    pub max_bytes: usize,
}

/// Everything the broker learned from a verified response.
#[derive(Debug, Clone)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    pub issuer: String,
    /// Remember the assertion id in the replay cache until this instant.
    pub replay_until: DateTime<Utc>,
    /// SessionNotOnOrAfter from the AuthnStatement, when the IdP sent one.
    pub session_not_on_or_after: Option<DateTime<Utc>>,
    pub in_response_to: Option<String>,
    /// The assertion can be presented to AWS until this instant
    /// (SubjectConfirmationData NotOnOrAfter).
    pub exchange_until: DateTime<Utc>,
    pub claims: Claims,
}

/// The identity read from a response whose checks failed after its signature verified;
/// useful for the audit trail ("who was refused").
#[derive(Debug)]
pub struct Refusal {
    pub error: SamlError,
    pub subject: Option<String>,
    pub assertion_id: Option<String>,
}

impl From<SamlError> for Refusal {
    fn from(error: SamlError) -> Self {
        Self {
            error,
            subject: None,
            assertion_id: None,
        }
    }
}

pub struct Verifier {
    settings: VerifySettings,
    idp: IdpMetadata,
    keys: Vec<VerifyingKey>,
    deadline: std::time::Duration,
}

/// How long one verification may take. Every input under the size cap costs
/// a few milliseconds at most (docs/security.md); this is the backstop,
/// checked between the phases (parse, structure, profile, each signature).
pub const DEFAULT_DEADLINE: std::time::Duration = std::time::Duration::from_millis(250);

impl Verifier {
    pub fn new(settings: VerifySettings, idp: IdpMetadata) -> Self {
        let keys = idp
            .certs
            .iter()
            .filter_map(|c| dsig::key_from_certificate(&c.der))
            .collect();
        Self {
            settings,
            idp,
            keys,
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// The same verifier with another deadline (tests).
    pub fn with_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.deadline = deadline;
        self
    }

    pub fn idp(&self) -> &IdpMetadata {
        &self.idp
    }

    pub fn settings(&self) -> &VerifySettings {
        &self.settings
    }

    /// Decode the form field, enforcing the size cap before and after base64.
    pub fn decode(&self, saml_response: &str) -> Result<String, SamlError> {
        if saml_response.trim().is_empty() {
            return Err(SamlError::Missing);
        }
        if saml_response.len() > self.settings.max_bytes * 4 / 3 + 4 {
            return Err(SamlError::TooLarge(saml_response.len()));
        }
        let compact: String = saml_response.split_ascii_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| SamlError::Base64)?;
        if bytes.len() > self.settings.max_bytes {
            return Err(SamlError::TooLarge(bytes.len()));
        }
        String::from_utf8(bytes).map_err(|_| SamlError::Utf8)
    }

    /// Verify a base64 SAMLResponse. `expected_request_id` is the id of the
    /// pending AuthnRequest found by RelayState, or None for an unsolicited response.
    pub fn verify(
        &self,
        saml_response: &str,
        expected_request_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<VerifiedAssertion, Refusal> {
        let xml_text = self.decode(saml_response)?;
        self.verify_xml(&xml_text, expected_request_id, now)
    }

    pub fn verify_xml(
        &self,
        xml_text: &str,
        expected_request_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<VerifiedAssertion, Refusal> {
        let started = std::time::Instant::now();
        let in_time = || {
            if started.elapsed() > self.deadline {
                Err(SamlError::Deadline(self.deadline))
            } else {
                Ok(())
            }
        };
        let response = xml::parse(xml_text).map_err(SamlError::from)?;
        in_time()?;
        let (assertion, signatures) = structure(&response)?;
        in_time()?;
        let outer_assertion_id = assertion.attr("ID").unwrap_or_default().to_string();
        let status = response
            .child(NS_PROTOCOL, "Status")
            .and_then(|s| s.child(NS_PROTOCOL, "StatusCode"))
            .and_then(|c| c.attr("Value"))
            .unwrap_or_default();
        if status != STATUS_SUCCESS {
            return Err(SamlError::Status(status.to_string()).into());
        }
        // The whole profile of every signature is checked before any cryptography.
        let profiled = signatures
            .iter()
            .map(|(signed, sig)| {
                dsig::profile_check(signed, sig, self.settings.allow_sha1).map(|p| (*signed, p))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(SamlError::from)?;
        for (signed, p) in &profiled {
            in_time()?;
            p.verify(&response, signed, &self.keys)
                .map_err(SamlError::from)?;
        }

        // From here on the assertion is known to be signed (by its own
        // signature or by the Response's, which covers it); claims are read
        // from this very element.
        let claims = Claims::from_assertion(assertion);
        let subject = claims.as_ref().ok().map(|c| c.name_id.clone());
        let refuse = |error: SamlError| Refusal {
            error,
            subject: subject.clone(),
            assertion_id: Some(outer_assertion_id.clone()),
        };
        if assertion.attr("Version") != Some("2.0") {
            return Err(refuse(SamlError::Malformed(
                "Assertion Version is not 2.0".into(),
            )));
        }
        let checked = self
            .protocol_checks(&response, assertion, expected_request_id, now)
            .map_err(refuse)?;
        let claims = claims.map_err(|e| refuse(SamlError::Claims(e)))?;
        Ok(VerifiedAssertion {
            assertion_id: outer_assertion_id,
            issuer: self.idp.entity_id.clone(),
            replay_until: checked.replay_until,
            session_not_on_or_after: checked.session_not_on_or_after,
            in_response_to: expected_request_id.map(str::to_string),
            exchange_until: checked.exchange_until,
            claims,
        })
    }

    fn protocol_checks(
        &self,
        response: &Element,
        assertion: &Element,
        expected: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Checked, SamlError> {
        let s = &self.settings;
        let skew = s.max_clock_skew;
        let idp = &self.idp.entity_id;
        // Issuer: always on the assertion, on the response when present.
        let assertion_issuer = assertion
            .child(NS_ASSERTION, "Issuer")
            .map(|i| i.text().trim().to_string())
            .unwrap_or_default();
        if &assertion_issuer != idp {
            return Err(SamlError::Issuer {
                found: assertion_issuer,
                expected: idp.clone(),
            });
        }
        if let Some(i) = response.child(NS_ASSERTION, "Issuer") {
            let found = i.text().trim().to_string();
            if &found != idp {
                return Err(SamlError::Issuer {
                    found,
                    expected: idp.clone(),
                });
            }
        }
        // Destination.
        let destination = response.attr("Destination").unwrap_or_default();
        if destination != s.acs_url {
            return Err(SamlError::Destination(destination.to_string()));
        }
        // IssueInstant not in the future.
        for (what, el) in [("Response", response), ("Assertion", assertion)] {
            let t = time_attr(el, "IssueInstant")?
                .ok_or_else(|| SamlError::Malformed(format!("{what} without IssueInstant")))?;
            if t > now + skew {
                return Err(SamlError::Time(format!(
                    "{what} IssueInstant {t} is in the future"
                )));
            }
        }
        // Audience (required).
        let conditions = assertion
            .child(NS_ASSERTION, "Conditions")
            .ok_or(SamlError::NoAudience)?;
        let mut audiences = Vec::new();
        let mut restrictions = 0;
        for r in conditions.children_named(NS_ASSERTION, "AudienceRestriction") {
            restrictions += 1;
            let these: Vec<String> = r
                .children_named(NS_ASSERTION, "Audience")
                .map(|a| a.text().trim().to_string())
                .collect();
            if !these.iter().any(|a| a == &s.sp_entity_id) {
                return Err(SamlError::Audience(these));
            }
            audiences.extend(these);
        }
        if restrictions == 0 {
            return Err(SamlError::NoAudience);
        }
        // Conditions time window.
        let not_before = time_attr(conditions, "NotBefore")?;
        let not_on_or_after = time_attr(conditions, "NotOnOrAfter")?;
        if let Some(nb) = not_before {
            if now + skew < nb {
                return Err(SamlError::Time(format!(
                    "Conditions NotBefore {nb} is in the future"
                )));
            }
        }
        if let Some(na) = not_on_or_after {
            if now - skew >= na {
                return Err(SamlError::Time(format!(
                    "Conditions NotOnOrAfter {na} has passed"
                )));
            }
        }
        // Bearer confirmation with Recipient, window, InResponseTo.
        let subject = assertion
            .child(NS_ASSERTION, "Subject")
            .ok_or(SamlError::NoBearer)?;
        let scd = subject
            .children_named(NS_ASSERTION, "SubjectConfirmation")
            .find(|c| c.attr("Method") == Some(BEARER))
            .and_then(|c| c.child(NS_ASSERTION, "SubjectConfirmationData"))
            .ok_or(SamlError::NoBearer)?;
        let recipient = scd.attr("Recipient").unwrap_or_default();
        if recipient != s.acs_url {
            return Err(SamlError::Recipient(recipient.to_string()));
        }
        let scd_not_on_or_after = time_attr(scd, "NotOnOrAfter")?
            .ok_or_else(|| SamlError::Time("SubjectConfirmationData has no NotOnOrAfter".into()))?;
        if now - skew >= scd_not_on_or_after {
            return Err(SamlError::Time(format!(
                "SubjectConfirmationData NotOnOrAfter {scd_not_on_or_after} has passed"
            )));
        }
        if let Some(nb) = time_attr(scd, "NotBefore")? {
            if now + skew < nb {
                return Err(SamlError::Time(format!(
                    "SubjectConfirmationData NotBefore {nb} is in the future"
                )));
            }
        }
        let irt_scd = scd.attr("InResponseTo");
        let irt_resp = response.attr("InResponseTo");
        match expected {
            Some(id) => {
                for found in [irt_scd, irt_resp] {
                    if found != Some(id) {
                        return Err(SamlError::InResponseTo {
                            found: found.unwrap_or_default().to_string(),
                            expected: id.to_string(),
                        });
                    }
                }
            }
            None => {
                if let Some(found) = irt_scd.or(irt_resp) {
                    return Err(SamlError::InResponseTo {
                        found: found.to_string(),
                        expected: String::new(),
                    });
                }
                if !s.allow_idp_initiated {
                    return Err(SamlError::Unsolicited);
                }
            }
        }
        let session_not_on_or_after = match assertion.child(NS_ASSERTION, "AuthnStatement") {
            Some(a) => time_attr(a, "SessionNotOnOrAfter")?,
            None => None,
        };
        let replay_until =
            not_on_or_after.map_or(scd_not_on_or_after, |c| c.max(scd_not_on_or_after)) + skew;
        Ok(Checked {
            replay_until,
            exchange_until: scd_not_on_or_after,
            session_not_on_or_after,
        })
    }
}

/// The shape checks on the one parsed tree, before any cryptography: a SAML
/// 2.0 Response with exactly one Assertion as a direct child, unique `ID`s,
/// and every ds:Signature a direct child of the Response or the Assertion
/// (at most one each). Returns the assertion and the (signed element,
/// signature) pairs.
type Signatures<'a> = Vec<(&'a Element, &'a Element)>;

fn structure(response: &Element) -> Result<(&Element, Signatures<'_>), SamlError> {
    if !response.is(NS_PROTOCOL, "Response") {
        return Err(SamlError::NotAResponse);
    }
    if response.attr("Version") != Some("2.0") {
        return Err(SamlError::Malformed("Response Version is not 2.0".into()));
    }
    let mut enc = Vec::new();
    response.descendants(NS_ASSERTION, "EncryptedAssertion", &mut enc);
    if !enc.is_empty() {
        return Err(SamlError::Encrypted);
    }
    let mut assertions = Vec::new();
    response.descendants(NS_ASSERTION, "Assertion", &mut assertions);
    let [assertion] = assertions.as_slice() else {
        return Err(SamlError::AssertionCount(assertions.len()));
    };
    if !response.elements().any(|e| std::ptr::eq(e, *assertion)) {
        return Err(SamlError::Wrapped);
    }
    if assertion.attr("ID").is_none_or(str::is_empty) {
        return Err(SamlError::Malformed("Assertion without ID".into()));
    }
    // IDs: only the unqualified `ID` attribute counts, and it must be unique.
    let mut ids = std::collections::HashSet::new();
    let mut duplicate = false;
    response.walk(None, &mut |el, _| {
        if let Some(id) = el.attr("ID") {
            duplicate |= !ids.insert(id);
        }
    });
    if duplicate {
        return Err(SamlError::Wrapped);
    }
    let mut signatures = Vec::new();
    let mut misplaced = false;
    response.walk(None, &mut |el, parent| {
        if el.is(NS_DSIG, "Signature") {
            match parent {
                Some(p) if std::ptr::eq(p, response) || std::ptr::eq(p, *assertion) => {
                    signatures.push((p, el))
                }
                _ => misplaced = true,
            }
        }
    });
    if misplaced {
        return Err(SamlError::from(DsigError::Profile(
            "a Signature is not a direct child of the Response or the Assertion".into(),
        )));
    }
    for parent in [response, *assertion] {
        if signatures
            .iter()
            .filter(|(p, _)| std::ptr::eq(*p, parent))
            .count()
            > 1
        {
            return Err(SamlError::from(DsigError::Profile(
                "more than one Signature on one element".into(),
            )));
        }
    }
    if signatures.is_empty() {
        return Err(SamlError::Unsigned);
    }
    Ok((assertion, signatures))
}

struct Checked {
    replay_until: DateTime<Utc>,
    exchange_until: DateTime<Utc>,
    session_not_on_or_after: Option<DateTime<Utc>>,
}

fn time_attr(el: &Element, name: &str) -> Result<Option<DateTime<Utc>>, SamlError> {
    el.attr(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| SamlError::Malformed(format!("{name} {v:?} is not an xs:dateTime")))
        })
        .transpose()
}

/// `#` followed by an XML NCName.
fn is_bare_id_reference(uri: &str) -> bool {
    let Some(id) = uri.strip_prefix('#') else {
        return false;
    };
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
