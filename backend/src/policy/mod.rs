//! Role selection: a pure function from the claims of a verified assertion
//! and the `[policy]` rules to a decision (one role, ask the person, or a
//! refusal with reasons). Knows nothing of HTTP or AWS; the only I/O is
//! reading session-policy files once, when the policy is loaded.
//!
//! The syntax and semantics are documented in docs/policy.md.

mod glob;
mod lint;
mod parse;

use crate::saml::claims::{Claims, RoleArn, RoleGrant};
use glob::Pattern;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub use parse::{DEFAULT_SESSION, MAX_SESSION, MAX_SESSION_POLICY_CHARS, MIN_SESSION};

/// The parsed `[policy]` section.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    prefer: Vec<Pattern>,
    ask: bool,
    max_session_seconds: i32,
    default_session_seconds: i32,
    accounts: BTreeMap<String, String>,
}

impl Default for Policy {
    /// No rules: every role in the assertion is allowed, the person chooses
    /// when there are several.
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            prefer: Vec::new(),
            ask: true,
            max_session_seconds: MAX_SESSION,
            default_session_seconds: DEFAULT_SESSION,
            accounts: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("configuration key `{key}`: cannot read the session policy file {}: {source}. Check the path (a relative path starts at the configuration file's directory)", path.display())]
    ReadFile {
        key: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PolicyError {
    /// The configuration key the error is about, e.g. `policy.rules[2].roles[0]`.
    pub fn key(&self) -> &str {
        match self {
            PolicyError::Invalid { key, .. } | PolicyError::ReadFile { key, .. } => key,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Use this role now.
    Role(AllowedRole),
    /// Several roles are allowed and none is preferred: ask the person.
    Choose(Vec<AllowedRole>),
    Deny(Denial),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllowedRole {
    pub grant: RoleGrant,
    /// 900..=43200: the assertion's SessionDuration (or
    /// `policy.default_session_seconds`), capped by the admitting rule's and
    /// the global `max_session_seconds`.
    pub duration_seconds: i32,
    /// Packed JSON (no white space), at most 2048 characters.
    pub session_policy: Option<String>,
    /// The allow rule that admitted the role; `None` when there are no allow rules.
    pub rule: Option<String>,
    /// The assertion's PrincipalTag claims (AWS reads them from the assertion).
    pub session_tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    /// Plain words for the person.
    pub reason: String,
    /// The exact technical reason, for the audit trail.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SessionPolicySource {
    Inline,
    File(PathBuf),
}

#[derive(Debug, Clone)]
struct Rule {
    index: usize,
    name: String,
    description: Option<String>,
    effect: Effect,
    groups: Option<Vec<String>>,
    roles: Option<Vec<Pattern>>,
    accounts: Option<Vec<String>>,
    require_tags: Vec<(String, String)>,
    max_session_seconds: Option<i32>,
    session_policy: Option<(String, SessionPolicySource)>,
}

fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let v: Vec<String> = items
        .into_iter()
        .map(|s| format!("{:?}", s.as_ref()))
        .collect();
    format!("[{}]", v.join(", "))
}

impl Rule {
    fn key(&self) -> String {
        format!("policy.rules[{}]", self.index)
    }

    /// `rule "name" (policy.rules[i])`
    fn label(&self) -> String {
        format!("rule {:?} ({})", self.name, self.key())
    }

    /// `Ok` when the rule applies to this person and role, otherwise the
    /// first condition that does not hold.
    fn check(&self, claims: &Claims, role: &RoleArn) -> Result<(), String> {
        if let Some(groups) = &self.groups {
            if !claims.groups.iter().any(|g| groups.contains(g)) {
                return Err(format!(
                    "the person is in none of the groups {}",
                    list(groups)
                ));
            }
        }
        if let Some(accounts) = &self.accounts {
            if !accounts.iter().any(|a| a == role.account_id()) {
                return Err(format!(
                    "account {} is not one of {}",
                    role.account_id(),
                    list(accounts)
                ));
            }
        }
        if let Some(patterns) = &self.roles {
            if !patterns.iter().any(|p| p.is_match(role.as_str())) {
                return Err(format!(
                    "the role matches none of {}",
                    list(patterns.iter().map(Pattern::as_str))
                ));
            }
        }
        for (k, v) in &self.require_tags {
            match claims.principal_tags.iter().find(|(tk, _)| tk == k) {
                Some((_, tv)) if tv == v => {}
                Some((_, tv)) => {
                    return Err(format!(
                        "PrincipalTag {k} is {tv:?}, the rule requires {v:?}"
                    ))
                }
                None => return Err(format!("no PrincipalTag {k} (the rule requires {v:?})")),
            }
        }
        Ok(())
    }
}

/// What the rules say about one candidate role.
enum Verdict<'a> {
    Allowed(Option<&'a Rule>),
    Denied(&'a Rule),
    /// There are allow rules and none applies; each with its reason.
    NotAllowed(Vec<(&'a Rule, String)>),
}

impl Verdict<'_> {
    fn detail(&self) -> String {
        match self {
            Verdict::Allowed(Some(r)) => format!("allowed by {}", r.label()),
            Verdict::Allowed(None) => "allowed (no allow rules)".into(),
            Verdict::Denied(r) => format!("denied by {}", r.label()),
            Verdict::NotAllowed(why) => {
                let parts: Vec<String> = why
                    .iter()
                    .map(|(r, w)| format!("{}: {w}", r.label()))
                    .collect();
                format!("no allow rule matches ({})", parts.join("; "))
            }
        }
    }
}

impl Policy {
    /// Parse the `[policy]` table. `base_dir` is where a relative
    /// `session_policy_file` is looked up (the configuration file's directory).
    pub fn from_table(t: &toml::Table, base_dir: &Path) -> Result<Policy, PolicyError> {
        parse::policy(t, base_dir)
    }

    /// No rules at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The alias configured under `[policy.accounts]` for an account id.
    pub fn account_alias(&self, account_id: &str) -> Option<&str> {
        self.accounts.get(account_id).map(String::as_str)
    }

    /// The key of the first rule that attaches a session policy, e.g.
    /// `policy.rules[2].session_policy_file` (Cognito mode cannot pass one).
    pub fn session_policy_key(&self) -> Option<String> {
        self.rules.iter().find_map(|r| match &r.session_policy {
            Some((_, SessionPolicySource::Inline)) => Some(format!("{}.session_policy", r.key())),
            Some((_, SessionPolicySource::File(_))) => {
                Some(format!("{}.session_policy_file", r.key()))
            }
            None => None,
        })
    }

    /// Problems `check-config` should report; empty when there are none.
    pub fn lint(&self) -> Vec<String> {
        lint::lint(self)
    }

    /// One line per setting and rule, for `check-config` to print.
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.rules.is_empty() {
            out.push("no rules: every role in the assertion is allowed".into());
        }
        for r in &self.rules {
            let mut line = format!(
                "{} {}:",
                r.label(),
                if r.effect == Effect::Allow {
                    "allow"
                } else {
                    "deny"
                }
            );
            let cond = |k: &str, v: &Option<Vec<String>>| match v {
                Some(v) => format!(" {k} {}", list(v)),
                None => String::new(),
            };
            line += &cond("groups", &r.groups);
            line += &cond(
                "roles",
                &r.roles
                    .as_ref()
                    .map(|p| p.iter().map(|p| p.as_str().to_string()).collect()),
            );
            line += &cond("accounts", &r.accounts);
            for (k, v) in &r.require_tags {
                let _ = write!(line, " tag {k}={v:?}");
            }
            if r.groups.is_none()
                && r.roles.is_none()
                && r.accounts.is_none()
                && r.require_tags.is_empty()
            {
                line += " everyone, every role";
            }
            if let Some(s) = r.max_session_seconds {
                let _ = write!(line, "; at most {s} s");
            }
            match &r.session_policy {
                Some((p, SessionPolicySource::Inline)) => {
                    let _ = write!(line, "; inline session policy ({} chars)", p.len());
                }
                Some((p, SessionPolicySource::File(f))) => {
                    let _ = write!(line, "; session policy {} ({} chars)", f.display(), p.len());
                }
                None => {}
            }
            if let Some(d) = &r.description {
                let _ = write!(line, " ({d})");
            }
            out.push(line);
        }
        if !self.prefer.is_empty() {
            out.push(format!(
                "prefer {}",
                list(self.prefer.iter().map(Pattern::as_str))
            ));
        }
        out.push(format!(
            "when several roles remain: {}",
            if self.ask {
                "ask the person"
            } else {
                "take the first"
            }
        ));
        out.push(format!(
            "session duration: {} s unless the assertion says otherwise, at most {} s",
            self.default_session_seconds.min(self.max_session_seconds),
            self.max_session_seconds
        ));
        for (id, alias) in &self.accounts {
            out.push(format!("account {id} = {alias:?}"));
        }
        out
    }

    /// `arn (alias)` when the role's account has an alias, else the ARN.
    pub fn role_label(&self, role: &RoleArn) -> String {
        match self.account_alias(role.account_id()) {
            Some(a) => format!("{role} ({a})"),
            None => role.to_string(),
        }
    }

    fn has_allow_rules(&self) -> bool {
        self.rules.iter().any(|r| r.effect == Effect::Allow)
    }

    fn judge(&self, claims: &Claims, role: &RoleArn) -> Verdict<'_> {
        if let Some(d) = self
            .rules
            .iter()
            .filter(|r| r.effect == Effect::Deny)
            .find(|r| r.check(claims, role).is_ok())
        {
            return Verdict::Denied(d);
        }
        if !self.has_allow_rules() {
            return Verdict::Allowed(None);
        }
        let mut why = Vec::new();
        for r in self.rules.iter().filter(|r| r.effect == Effect::Allow) {
            match r.check(claims, role) {
                Ok(()) => return Verdict::Allowed(Some(r)),
                Err(w) => why.push((r, w)),
            }
        }
        Verdict::NotAllowed(why)
    }

    fn allowed_role(&self, claims: &Claims, grant: &RoleGrant, rule: Option<&Rule>) -> AllowedRole {
        let asked = claims
            .session_duration
            .and_then(|d| i32::try_from(d).ok())
            .unwrap_or(self.default_session_seconds);
        let cap = rule
            .and_then(|r| r.max_session_seconds)
            .unwrap_or(MAX_SESSION)
            .min(self.max_session_seconds);
        AllowedRole {
            grant: grant.clone(),
            duration_seconds: asked.min(cap).clamp(MIN_SESSION, MAX_SESSION),
            session_policy: rule.and_then(|r| r.session_policy.as_ref().map(|(p, _)| p.clone())),
            rule: rule.map(|r| r.name.clone()),
            session_tags: claims.principal_tags.clone(),
        }
    }

    /// Every role of the assertion the rules allow, in assertion order.
    pub fn allowed(&self, claims: &Claims) -> Vec<AllowedRole> {
        claims
            .roles
            .iter()
            .filter_map(|g| match self.judge(claims, &g.role) {
                Verdict::Allowed(rule) => Some(self.allowed_role(claims, g, rule)),
                _ => None,
            })
            .collect()
    }

    /// Decide which role to use. `requested` is a role the person asked for
    /// (role picker, `/api/role`, or a pre-selected role on a fresh sign-in).
    pub fn decide(&self, claims: &Claims, requested: Option<&RoleArn>) -> Decision {
        let verdicts: Vec<(&RoleGrant, Verdict<'_>)> = claims
            .roles
            .iter()
            .map(|g| (g, self.judge(claims, &g.role)))
            .collect();
        let allowed: Vec<AllowedRole> = verdicts
            .iter()
            .filter_map(|(g, v)| match v {
                Verdict::Allowed(rule) => Some(self.allowed_role(claims, g, *rule)),
                _ => None,
            })
            .collect();

        if let Some(want) = requested {
            return match verdicts.iter().find(|(g, _)| &g.role == want) {
                None => Decision::Deny(Denial {
                    reason: format!(
                        "Your sign-in does not grant the role {}.",
                        self.role_label(want)
                    ),
                    detail: format!(
                        "requested role {want} is not in the assertion (its roles: {})",
                        list(claims.roles.iter().map(|g| g.role.as_str()))
                    ),
                }),
                Some((g, Verdict::Allowed(rule))) => {
                    Decision::Role(self.allowed_role(claims, g, *rule))
                }
                Some((_, v)) => {
                    let why = match v {
                        Verdict::Denied(r) => format!("the rule {:?} denies it", r.name),
                        _ => "no rule allows it".into(),
                    };
                    Decision::Deny(Denial {
                        reason: format!(
                            "You may not use the role {} through this application: {why}.",
                            self.role_label(want)
                        ),
                        detail: format!("requested role {want}: {}", v.detail()),
                    })
                }
            };
        }

        let Some(first) = allowed.first() else {
            return Decision::Deny(self.nothing_allowed(claims, &verdicts));
        };
        if allowed.len() == 1 {
            return Decision::Role(first.clone());
        }
        for p in &self.prefer {
            if let Some(r) = allowed.iter().find(|r| p.is_match(r.grant.role.as_str())) {
                return Decision::Role(r.clone());
            }
        }
        if self.ask {
            Decision::Choose(allowed)
        } else {
            Decision::Role(first.clone())
        }
    }

    fn nothing_allowed(&self, claims: &Claims, verdicts: &[(&RoleGrant, Verdict<'_>)]) -> Denial {
        let mut detail = if claims.roles.is_empty() {
            "the assertion carries no usable Role attribute value".to_string()
        } else {
            let parts: Vec<String> = verdicts
                .iter()
                .map(|(g, v)| format!("{}: {}", g.role, v.detail()))
                .collect();
            format!("no role allowed; {}", parts.join("; "))
        };
        if !claims.malformed_roles.is_empty() {
            let bad: Vec<String> = claims
                .malformed_roles
                .iter()
                .map(|m| format!("{:?} ({})", m.value, m.problem))
                .collect();
            let _ = write!(detail, "; unreadable Role values: {}", bad.join(", "));
        }
        Denial {
            reason: if claims.roles.is_empty() {
                "Your sign-in did not include any AWS role.".into()
            } else {
                "None of your AWS roles may be used through this application.".into()
            },
            detail,
        }
    }
}

#[cfg(test)]
mod tests;
