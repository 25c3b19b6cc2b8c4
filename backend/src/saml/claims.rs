//! The claims of a verified assertion, parsed once into typed values.
//!
//! Only the signed assertion is ever handed to [`Claims::from_assertion`].

use super::xml::{Element, NS_ASSERTION};
use serde::{Deserialize, Serialize};
use std::fmt;

pub const ATTR_ROLE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
pub const ATTR_SESSION_NAME: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
pub const ATTR_SESSION_DURATION: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
pub const ATTR_SOURCE_IDENTITY: &str = "https://aws.amazon.com/SAML/Attributes/SourceIdentity";
pub const ATTR_PRINCIPAL_TAG: &str = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:";
pub const ATTR_GROUP: &str = "http://schemas.xmlsoap.org/claims/Group";
pub const ATTR_MS_ROLE: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";

/// `arn:aws:iam::123456789012:role/path/Name`
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleArn(String);

/// `arn:aws:iam::123456789012:saml-provider/Name`
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderArn(String);

fn iam_arn_parts(s: &str, kind: &str) -> Option<(String, String)> {
    // arn:<partition>:iam::<account>:<kind>/<name>
    let mut it = s.splitn(6, ':');
    let (arn, partition, service, region, account, resource) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    let name = resource.strip_prefix(kind)?.strip_prefix('/')?;
    let ok = arn == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
    ok.then(|| (account.to_string(), name.to_string()))
}

impl RoleArn {
    pub fn parse(s: &str) -> Option<Self> {
        iam_arn_parts(s.trim(), "role").map(|_| Self(s.trim().to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn account_id(&self) -> &str {
        self.0.split(':').nth(4).unwrap_or_default()
    }
    /// The role name without its path.
    pub fn role_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }
}

impl ProviderArn {
    pub fn parse(s: &str) -> Option<Self> {
        iam_arn_parts(s.trim(), "saml-provider").map(|_| Self(s.trim().to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn account_id(&self) -> &str {
        self.0.split(':').nth(4).unwrap_or_default()
    }
}

macro_rules! string_newtype_impls {
    ($t:ident, $what:literal) => {
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("not {}: {s}", $what))
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_newtype_impls!(RoleArn, "an IAM role ARN");
string_newtype_impls!(ProviderArn, "an IAM SAML provider ARN");

/// One value of the Role attribute: a role and the SAML provider that may assume it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrant {
    pub role: RoleArn,
    pub provider: ProviderArn,
}

impl RoleGrant {
    /// Accepts `role,provider` and `provider,role`, both in the same AWS
    /// account: STS only lets a role be assumed through a SAML provider of its
    /// own account, so a cross-account pair is malformed (a typo, or an IdP
    /// rule gone wrong) and is reported instead of being offered.
    pub fn parse(value: &str) -> Result<Self, String> {
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        let [a, b] = parts.as_slice() else {
            return Err(format!(
                "expected two comma-separated ARNs, found {} part(s)",
                parts.len()
            ));
        };
        match (
            RoleArn::parse(a),
            ProviderArn::parse(b),
            ProviderArn::parse(a),
            RoleArn::parse(b),
        ) {
            (Some(role), Some(provider), _, _) | (_, _, Some(provider), Some(role)) => {
                if role.account_id() != provider.account_id() {
                    return Err(format!(
                        "role account {} differs from its SAML provider's account {}",
                        role.account_id(),
                        provider.account_id()
                    ));
                }
                Ok(Self { role, provider })
            }
            _ => Err("expected one IAM role ARN and one SAML provider ARN".into()),
        }
    }
}

/// A Role attribute value that could not be understood, kept so it can be reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedRole {
    pub value: String,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Claims {
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_name: Option<String>,
    pub session_duration: Option<u32>,
    pub roles: Vec<RoleGrant>,
    pub malformed_roles: Vec<MalformedRole>,
    pub groups: Vec<String>,
    pub principal_tags: Vec<(String, String)>,
    pub source_identity: Option<String>,
    /// Problems found while reading claims that do not refuse the login.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClaimsError {
    #[error("the assertion has no Subject/NameID")]
    MissingNameId,
    #[error("the NameID is empty")]
    EmptyNameId,
}

impl Claims {
    /// Read claims from a (verified) `saml:Assertion` element.
    pub fn from_assertion(assertion: &Element) -> Result<Self, ClaimsError> {
        let name_id = assertion
            .child(NS_ASSERTION, "Subject")
            .and_then(|s| s.child(NS_ASSERTION, "NameID"))
            .ok_or(ClaimsError::MissingNameId)?;
        if name_id.elements().next().is_some() {
            return Err(ClaimsError::MissingNameId);
        }
        let mut claims = Claims {
            name_id: name_id.text().trim().to_string(),
            name_id_format: name_id.attr("Format").map(str::to_string),
            ..Default::default()
        };
        if claims.name_id.is_empty() {
            return Err(ClaimsError::EmptyNameId);
        }
        for statement in assertion.children_named(NS_ASSERTION, "AttributeStatement") {
            for attr in statement.children_named(NS_ASSERTION, "Attribute") {
                let Some(name) = attr.attr("Name") else {
                    continue;
                };
                let values: Vec<String> = attr
                    .children_named(NS_ASSERTION, "AttributeValue")
                    .map(|v| v.text().trim().to_string())
                    .collect();
                claims.add_attribute(name, values);
            }
        }
        Ok(claims)
    }

    fn add_attribute(&mut self, name: &str, values: Vec<String>) {
        match name {
            ATTR_ROLE => {
                for v in values {
                    match RoleGrant::parse(&v) {
                        Ok(g) if !self.roles.contains(&g) => self.roles.push(g),
                        Ok(_) => {}
                        Err(problem) => self
                            .malformed_roles
                            .push(MalformedRole { value: v, problem }),
                    }
                }
            }
            ATTR_SESSION_NAME => self.session_name = values.into_iter().find(|v| !v.is_empty()),
            ATTR_SESSION_DURATION => {
                let v = values.into_iter().next().unwrap_or_default();
                match v.parse::<u32>() {
                    Ok(d) if (900..=43200).contains(&d) => self.session_duration = Some(d),
                    _ => self.warnings.push(format!(
                        "SessionDuration {v:?} ignored: expected whole seconds between 900 and 43200"
                    )),
                }
            }
            ATTR_SOURCE_IDENTITY => {
                self.source_identity = values.into_iter().find(|v| !v.is_empty())
            }
            ATTR_GROUP | ATTR_MS_ROLE => {
                for v in values {
                    if !v.is_empty() && !self.groups.contains(&v) {
                        self.groups.push(v);
                    }
                }
            }
            other => {
                if let Some(key) = other.strip_prefix(ATTR_PRINCIPAL_TAG) {
                    if let Some(v) = values.into_iter().next() {
                        self.principal_tags.push((key.to_string(), v));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::saml::xml::parse;

    const ROLE: &str = "arn:aws:iam::111111111111:role/Dev";
    const PROV: &str = "arn:aws:iam::111111111111:saml-provider/ADFS";

    fn assertion(attrs: &str) -> Element {
        parse(&format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">
<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</saml:NameID></saml:Subject>
<saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"#
        ))
        .unwrap()
    }

    fn attr(name: &str, values: &[&str]) -> String {
        let v: String = values
            .iter()
            .map(|v| format!("<saml:AttributeValue>{v}</saml:AttributeValue>"))
            .collect();
        format!(r#"<saml:Attribute Name="{name}">{v}</saml:Attribute>"#)
    }

    #[test]
    fn role_pairs_in_either_order() {
        let a = format!("{ROLE},{PROV}");
        let b = format!("{PROV}, {ROLE}");
        let c = Claims::from_assertion(&assertion(&attr(ATTR_ROLE, &[&a, &b]))).unwrap();
        assert_eq!(c.roles.len(), 1, "the same pair twice collapses to one");
        assert_eq!(c.roles[0].role.as_str(), ROLE);
        assert_eq!(c.roles[0].provider.as_str(), PROV);
        assert_eq!(c.roles[0].role.account_id(), "111111111111");
        assert_eq!(c.roles[0].role.role_name(), "Dev");
    }

    #[test]
    fn malformed_roles_are_reported_not_dropped() {
        let c = Claims::from_assertion(&assertion(&attr(
            ATTR_ROLE,
            &[
                ROLE,
                &format!("{ROLE},{ROLE}"),
                "arn:aws:iam::12:role/X,arn:aws:iam::12:saml-provider/Y",
                &format!("{ROLE},{PROV}"),
            ],
        )))
        .unwrap();
        assert_eq!(c.roles.len(), 1);
        assert_eq!(c.malformed_roles.len(), 3);
        assert!(c.malformed_roles[0].problem.contains("found 1 part"));
        assert_eq!(c.malformed_roles[1].value, format!("{ROLE},{ROLE}"));
    }

    #[test]
    fn role_and_provider_in_different_accounts_are_malformed() {
        let other_prov = "arn:aws:iam::222222222222:saml-provider/ADFS";
        let other_role = "arn:aws:iam::222222222222:role/Admin";
        let c = Claims::from_assertion(&assertion(&attr(
            ATTR_ROLE,
            &[
                &format!("{ROLE},{other_prov}"),
                &format!("{other_prov},{ROLE}"),
                &format!("{other_role},{PROV}"),
                &format!("{other_role},{other_prov}"),
            ],
        )))
        .unwrap();
        assert_eq!(c.roles.len(), 1);
        assert_eq!(c.roles[0].role.as_str(), other_role);
        assert_eq!(c.roles[0].provider.account_id(), "222222222222");
        assert_eq!(c.malformed_roles.len(), 3);
        assert_eq!(c.malformed_roles[0].value, format!("{ROLE},{other_prov}"));
        assert_eq!(
            c.malformed_roles[0].problem,
            "role account 111111111111 differs from its SAML provider's account 222222222222"
        );
        assert_eq!(
            c.malformed_roles[2].problem,
            "role account 222222222222 differs from its SAML provider's account 111111111111"
        );
        assert!(RoleGrant::parse(&format!("{ROLE},{other_prov}")).is_err());
    }

    #[test]
    fn all_claim_kinds() {
        let xml = [
            attr(ATTR_SESSION_NAME, &["alice"]),
            attr(ATTR_SESSION_DURATION, &["7200"]),
            attr(ATTR_GROUP, &["Developers", "AWS-Broker-Admins"]),
            attr(ATTR_MS_ROLE, &["Developers", "Ops"]),
            attr(&format!("{ATTR_PRINCIPAL_TAG}CostCenter"), &["42"]),
            attr(ATTR_SOURCE_IDENTITY, &["alice"]),
        ]
        .concat();
        let c = Claims::from_assertion(&assertion(&xml)).unwrap();
        assert_eq!(c.name_id, "alice@example.com");
        assert_eq!(c.session_name.as_deref(), Some("alice"));
        assert_eq!(c.session_duration, Some(7200));
        assert_eq!(c.groups, vec!["Developers", "AWS-Broker-Admins", "Ops"]);
        assert_eq!(
            c.principal_tags,
            vec![("CostCenter".to_string(), "42".to_string())]
        );
        assert_eq!(c.source_identity.as_deref(), Some("alice"));
        assert!(c.roles.is_empty());
    }

    #[test]
    fn bad_session_duration_is_a_warning() {
        let c =
            Claims::from_assertion(&assertion(&attr(ATTR_SESSION_DURATION, &["99999"]))).unwrap();
        assert_eq!(c.session_duration, None);
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn missing_name_id_is_an_error() {
        let el = parse(r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Subject/></saml:Assertion>"#).unwrap();
        assert_eq!(Claims::from_assertion(&el), Err(ClaimsError::MissingNameId));
        let el = parse(r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Subject><saml:NameID> </saml:NameID></saml:Subject></saml:Assertion>"#).unwrap();
        assert_eq!(Claims::from_assertion(&el), Err(ClaimsError::EmptyNameId));
    }

    #[test]
    fn arn_parsing_is_strict() {
        assert!(RoleArn::parse("arn:aws:iam::111111111111:role/path/Dev").is_some());
        assert!(RoleArn::parse("arn:aws-us-gov:iam::111111111111:role/Dev").is_some());
        assert!(RoleArn::parse("arn:aws:iam::111111111111:user/Dev").is_none());
        assert!(RoleArn::parse("arn:aws:iam:us-east-1:111111111111:role/Dev").is_none());
        assert!(RoleArn::parse("arn:aws:iam::11111111111x:role/Dev").is_none());
        assert!(RoleArn::parse("arn:aws:iam::111111111111:role/").is_none());
        assert!(ProviderArn::parse(PROV).is_some());
    }
}
