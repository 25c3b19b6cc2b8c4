//! Reading the `[policy]` table: every key is checked, every error names the
//! key it is about and says how to fix it.

use super::glob::Pattern;
use super::{Effect, Policy, PolicyError, Rule, SessionPolicySource};
use std::collections::BTreeMap;
use std::path::Path;
use toml::Value;

pub const MIN_SESSION: i32 = 900;
pub const MAX_SESSION: i32 = 43200;
pub const DEFAULT_SESSION: i32 = 3600;
/// AWS: "The plaintext that you use for both inline and managed session
/// policies can't exceed 2,048 characters."
pub const MAX_SESSION_POLICY_CHARS: usize = 2048;

const TOP_KEYS: &[&str] = &[
    "rules",
    "prefer",
    "ask",
    "accounts",
    "max_session_seconds",
    "default_session_seconds",
];
const RULE_KEYS: &[&str] = &[
    "name",
    "description",
    "effect",
    "groups",
    "roles",
    "accounts",
    "require_tags",
    "max_session_seconds",
    "session_policy",
    "session_policy_file",
];

fn invalid(key: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

fn unknown_key(key: String, allowed: &[&str]) -> PolicyError {
    invalid(
        key,
        format!(
            "unknown key; the keys allowed here are {}",
            allowed.join(", ")
        ),
    )
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "a number",
        Value::Float(_) => "a decimal number",
        Value::Boolean(_) => "true/false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

fn string(v: &Value, key: &str) -> Result<String, PolicyError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(invalid(
            key,
            format!("expected a string in quotes, found {}", type_name(other)),
        )),
    }
}

/// A list of non-empty strings; a single string is taken as a list of one.
fn string_list(v: &Value, key: &str) -> Result<Vec<String>, PolicyError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::String(_) => vec![v],
        other => {
            return Err(invalid(
                key,
                format!(
                    "expected a list of strings like [\"a\", \"b\"], found {}",
                    type_name(other)
                ),
            ))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let k = if matches!(v, Value::Array(_)) {
            format!("{key}[{i}]")
        } else {
            key.to_string()
        };
        let s = string(item, &k)?;
        let s = s.trim();
        if s.is_empty() {
            return Err(invalid(k, "must not be empty; remove the entry"));
        }
        out.push(s.to_string());
    }
    Ok(out)
}

/// A whole number of seconds between 900 and 43200 (a string holding one is
/// accepted, as environment overrides are strings).
fn seconds(v: &Value, key: &str) -> Result<i32, PolicyError> {
    let n = match v {
        Value::Integer(n) => *n,
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| {
            invalid(
                key,
                format!("expected a whole number of seconds, found {s:?}"),
            )
        })?,
        other => {
            return Err(invalid(
                key,
                format!(
                    "expected a whole number of seconds, found {}",
                    type_name(other)
                ),
            ))
        }
    };
    if !(i64::from(MIN_SESSION)..=i64::from(MAX_SESSION)).contains(&n) {
        return Err(invalid(
            key,
            format!("{n} is outside what AWS accepts; use a value between {MIN_SESSION} (15 minutes) and {MAX_SESSION} (12 hours)"),
        ));
    }
    i32::try_from(n).map_err(|_| invalid(key, "out of range"))
}

fn boolean(v: &Value, key: &str) -> Result<bool, PolicyError> {
    match v {
        Value::Boolean(b) => Ok(*b),
        Value::String(s) => match s.trim() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            other => Err(invalid(
                key,
                format!("expected true or false, found {other:?}"),
            )),
        },
        other => Err(invalid(
            key,
            format!("expected true or false, found {}", type_name(other)),
        )),
    }
}

fn string_table(v: &Value, key: &str) -> Result<Vec<(String, String)>, PolicyError> {
    let Value::Table(t) = v else {
        return Err(invalid(
            key,
            format!(
                "expected a table like {{ Key = \"value\" }}, found {}",
                type_name(v)
            ),
        ));
    };
    t.iter()
        .map(|(k, v)| Ok((k.clone(), string(v, &format!("{key}.{k}"))?)))
        .collect()
}

/// Check a session policy document and pack it the way AWS counts it. The
/// error message continues a sentence about `what` ("the policy", "the file …").
pub fn session_policy(text: &str) -> Result<String, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!("is not valid JSON ({e}); write an IAM policy document such as {{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"}}]}}")
    })?;
    let Some(obj) = doc.as_object() else {
        return Err(
            "is not a JSON object; write an IAM policy document with a \"Statement\" list".into(),
        );
    };
    if !obj.contains_key("Statement") {
        return Err("has no \"Statement\"; AWS refuses a policy document without one".into());
    }
    let packed = serde_json::to_string(&doc).map_err(|e| format!("cannot be serialised: {e}"))?;
    if let Some(c) = packed
        .chars()
        .find(|c| !matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        return Err(format!("contains the character {c:?}, which AWS does not accept in a policy (only tab, line breaks and U+0020..U+00FF)"));
    }
    let n = packed.chars().count();
    if n > MAX_SESSION_POLICY_CHARS {
        return Err(format!("is {n} characters without white space; AWS accepts at most {MAX_SESSION_POLICY_CHARS}. Shorten it, or put the permissions in the role's own policies"));
    }
    Ok(packed)
}

fn rule(v: &Value, index: usize, base_dir: &Path) -> Result<Rule, PolicyError> {
    let key = format!("policy.rules[{index}]");
    let Value::Table(t) = v else {
        return Err(invalid(
            key,
            format!(
                "expected a table; write each rule as a [[policy.rules]] section, found {}",
                type_name(v)
            ),
        ));
    };
    if let Some(k) = t.keys().find(|k| !RULE_KEYS.contains(&k.as_str())) {
        return Err(unknown_key(format!("{key}.{k}"), RULE_KEYS));
    }
    let name = match t.get("name") {
        Some(v) => string(v, &format!("{key}.name"))?.trim().to_string(),
        None => String::new(),
    };
    if name.is_empty() {
        return Err(invalid(
            format!("{key}.name"),
            "every rule needs a name (it appears in the audit trail); add name = \"…\"",
        ));
    }
    let k = |sub: &str| format!("{key}.{sub}");
    let effect = match t.get("effect") {
        None => Effect::Allow,
        Some(v) => match string(v, &k("effect"))?.as_str() {
            "allow" => Effect::Allow,
            "deny" => Effect::Deny,
            other => {
                return Err(invalid(
                    k("effect"),
                    format!("{other:?} is not an effect; use \"allow\" or \"deny\""),
                ))
            }
        },
    };
    if effect == Effect::Deny {
        for sub in [
            "max_session_seconds",
            "session_policy",
            "session_policy_file",
        ] {
            if t.contains_key(sub) {
                return Err(invalid(
                    k(sub),
                    "only allow rules take this key; remove it or make the rule effect = \"allow\"",
                ));
            }
        }
    }
    let groups = t
        .get("groups")
        .map(|v| string_list(v, &k("groups")))
        .transpose()?;
    let roles = t
        .get("roles")
        .map(|v| string_list(v, &k("roles")))
        .transpose()?
        .map(|v| v.iter().map(|p| Pattern::new(p)).collect());
    let accounts = t
        .get("accounts")
        .map(|v| string_list(v, &k("accounts")))
        .transpose()?;
    let require_tags = t
        .get("require_tags")
        .map(|v| string_table(v, &k("require_tags")))
        .transpose()?
        .unwrap_or_default();
    let max_session_seconds = t
        .get("max_session_seconds")
        .map(|v| seconds(v, &k("max_session_seconds")))
        .transpose()?;
    let session_policy = match (t.get("session_policy"), t.get("session_policy_file")) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                k("session_policy_file"),
                "set either session_policy or session_policy_file, not both",
            ))
        }
        (Some(v), None) => {
            let text = string(v, &k("session_policy"))?;
            let packed = session_policy(&text)
                .map_err(|m| invalid(k("session_policy"), format!("the policy {m}")))?;
            Some((packed, SessionPolicySource::Inline))
        }
        (None, Some(v)) => {
            let rel = string(v, &k("session_policy_file"))?;
            let path = base_dir.join(rel.trim());
            let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::ReadFile {
                key: k("session_policy_file"),
                path: path.clone(),
                source,
            })?;
            let packed = session_policy(&text).map_err(|m| {
                invalid(
                    k("session_policy_file"),
                    format!("the file {} {m}", path.display()),
                )
            })?;
            Some((packed, SessionPolicySource::File(path)))
        }
        (None, None) => None,
    };
    let description = t
        .get("description")
        .map(|v| string(v, &k("description")))
        .transpose()?;
    Ok(Rule {
        index,
        name,
        description,
        effect,
        groups,
        roles,
        accounts,
        require_tags,
        max_session_seconds,
        session_policy,
    })
}

pub fn policy(t: &toml::Table, base_dir: &Path) -> Result<Policy, PolicyError> {
    if let Some(k) = t.keys().find(|k| !TOP_KEYS.contains(&k.as_str())) {
        return Err(unknown_key(format!("policy.{k}"), TOP_KEYS));
    }
    let rules = match t.get("rules") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| rule(v, i, base_dir))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(invalid(
                "policy.rules",
                format!(
                    "expected a list of rules written as [[policy.rules]] sections, found {}",
                    type_name(other)
                ),
            ))
        }
    };
    let prefer = t
        .get("prefer")
        .map(|v| string_list(v, "policy.prefer"))
        .transpose()?
        .unwrap_or_default()
        .iter()
        .map(|p| Pattern::new(p))
        .collect();
    let ask = t
        .get("ask")
        .map(|v| boolean(v, "policy.ask"))
        .transpose()?
        .unwrap_or(true);
    let max_session_seconds = t
        .get("max_session_seconds")
        .map(|v| seconds(v, "policy.max_session_seconds"))
        .transpose()?
        .unwrap_or(MAX_SESSION);
    let default_session_seconds = t
        .get("default_session_seconds")
        .map(|v| seconds(v, "policy.default_session_seconds"))
        .transpose()?
        .unwrap_or(DEFAULT_SESSION);
    let accounts: BTreeMap<String, String> = t
        .get("accounts")
        .map(|v| string_table(v, "policy.accounts"))
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(Policy {
        rules,
        prefer,
        ask,
        max_session_seconds,
        default_session_seconds,
        accounts,
    })
}
