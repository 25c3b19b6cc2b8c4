//! Problems in a policy that parses but cannot do what its author meant:
//! rules that never match, allow rules that deny rules always overrule,
//! `prefer` patterns nothing can satisfy, bad account aliases, duplicate
//! names, caps without effect.

use super::glob::Pattern;
use super::{list, Effect, Policy, Rule};
use std::collections::HashMap;

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Why a rule can never match anything, if it cannot.
fn dead_reasons(r: &Rule, out: &mut Vec<String>) -> bool {
    let key = r.key();
    let mut dead = false;
    if r.groups.as_ref().is_some_and(Vec::is_empty) {
        out.push(format!("{key}.groups: the empty list matches nobody, so rule {:?} never applies; remove the key to match everyone", r.name));
        dead = true;
    }
    if r.roles.as_ref().is_some_and(Vec::is_empty) {
        out.push(format!("{key}.roles: the empty list matches no role, so rule {:?} never applies; remove the key to match every role", r.name));
        dead = true;
    }
    let valid_accounts: Option<Vec<&str>> = r.accounts.as_ref().map(|accounts| {
        for (i, a) in accounts.iter().enumerate() {
            if !is_account_id(a) {
                out.push(format!("{key}.accounts[{i}]: {a:?} is not a 12-digit AWS account id, so it never matches"));
            }
        }
        accounts
            .iter()
            .map(String::as_str)
            .filter(|a| is_account_id(a))
            .collect()
    });
    if valid_accounts.as_ref().is_some_and(Vec::is_empty) {
        out.push(format!(
            "{key}.accounts: no valid account id, so rule {:?} never applies",
            r.name
        ));
        dead = true;
    }
    if let Some(patterns) = &r.roles {
        let mut any_live = false;
        for (i, p) in patterns.iter().enumerate() {
            let live = match &valid_accounts {
                None => p.can_match_role(None),
                Some(accts) => accts.iter().any(|a| p.can_match_role(Some(a))),
            };
            if live {
                any_live = true;
            } else if valid_accounts.as_ref().is_some_and(|a| !a.is_empty())
                && p.can_match_role(None)
            {
                out.push(format!(
                    "{key}.roles[{i}]: {:?} matches no role in the rule's accounts {}",
                    p.as_str(),
                    list(valid_accounts.iter().flatten())
                ));
            } else {
                out.push(format!(
                    "{key}.roles[{i}]: {:?} can never match a role ARN; write a pattern like \"arn:aws:iam::123456789012:role/Name\" or \"arn:aws:iam::*:role/Dev*\"",
                    p.as_str()
                ));
            }
        }
        if !patterns.is_empty() && !any_live {
            out.push(format!(
                "{key}: rule {:?} can never match, none of its role patterns can",
                r.name
            ));
            dead = true;
        }
    }
    dead
}

/// Does deny rule `d` apply whenever allow rule `a` does, leaving roles aside?
fn weaker_conditions(d: &Rule, a: &Rule) -> bool {
    let groups = match (&d.groups, &a.groups) {
        (None, _) => true,
        (Some(dg), Some(ag)) => ag.iter().all(|g| dg.contains(g)),
        (Some(_), None) => false,
    };
    let accounts = match (&d.accounts, &a.accounts) {
        (None, _) => true,
        (Some(da), Some(aa)) => aa.iter().all(|x| da.contains(x)),
        (Some(_), None) => false,
    };
    let tags = d.require_tags.iter().all(|t| a.require_tags.contains(t));
    groups && accounts && tags
}

/// Does `d` deny every role pattern `p` of `a` can match?
fn covers_pattern(d: &Rule, p: &Pattern) -> bool {
    match &d.roles {
        None => true,
        Some(dp) => dp.iter().any(|x| x.covers(p)),
    }
}

fn contradictions(p: &Policy, dead: &[bool], out: &mut Vec<String>) {
    let denies: Vec<&Rule> = p
        .rules
        .iter()
        .filter(|r| r.effect == Effect::Deny && !dead[r.index])
        .collect();
    for d in &denies {
        if d.groups.is_none()
            && d.roles.is_none()
            && d.accounts.is_none()
            && d.require_tags.is_empty()
        {
            out.push(format!(
                "{}: deny rule {:?} has no conditions, so it denies every role to everyone and nobody can sign in",
                d.key(),
                d.name
            ));
        }
    }
    for a in p
        .rules
        .iter()
        .filter(|r| r.effect == Effect::Allow && !dead[r.index])
    {
        let weaker: Vec<&&Rule> = denies.iter().filter(|d| weaker_conditions(d, a)).collect();
        if weaker.is_empty() {
            continue;
        }
        let mut by: Vec<&str> = Vec::new();
        let shadowed = match &a.roles {
            None => match weaker.iter().find(|d| d.roles.is_none()) {
                Some(d) => {
                    by.push(&d.name);
                    true
                }
                None => false,
            },
            Some(patterns) => patterns
                .iter()
                .filter(|pat| pat.can_match_role(None))
                .all(|pat| match weaker.iter().find(|d| covers_pattern(d, pat)) {
                    Some(d) => {
                        if !by.contains(&d.name.as_str()) {
                            by.push(&d.name);
                        }
                        true
                    }
                    None => false,
                }),
        };
        if shadowed && !by.is_empty() {
            out.push(format!(
                "{}: allow rule {:?} never admits a role: every role it allows is denied, for the same people or more, by {} {}; remove one of the rules or narrow the deny",
                a.key(),
                a.name,
                if by.len() == 1 { "rule" } else { "rules" },
                list(&by)
            ));
        }
    }
}

fn prefer(p: &Policy, dead: &[bool], out: &mut Vec<String>) {
    let allows: Vec<&Rule> = p
        .rules
        .iter()
        .filter(|r| r.effect == Effect::Allow && !dead[r.index])
        .collect();
    let any_allow = p.rules.iter().any(|r| r.effect == Effect::Allow);
    for (i, pat) in p.prefer.iter().enumerate() {
        if !pat.can_match_role(None) {
            out.push(format!(
                "policy.prefer[{i}]: {:?} can never match a role ARN; write a pattern like \"arn:aws:iam::*:role/ReadOnly\"",
                pat.as_str()
            ));
            continue;
        }
        if !any_allow {
            continue;
        }
        let reachable = allows.iter().any(|a| {
            let accounts_ok = match &a.accounts {
                None => true,
                Some(accts) => accts
                    .iter()
                    .any(|x| is_account_id(x) && pat.can_match_role(Some(x))),
            };
            let roles_ok = match &a.roles {
                None => true,
                Some(ps) => ps.iter().any(|x| x.overlaps(pat)),
            };
            accounts_ok && roles_ok
        });
        if !reachable {
            out.push(format!(
                "policy.prefer[{i}]: {:?} matches no role an allow rule admits, so it is never used",
                pat.as_str()
            ));
        }
    }
}

pub(super) fn lint(p: &Policy) -> Vec<String> {
    let mut out = Vec::new();

    let mut first_by_name: HashMap<&str, usize> = HashMap::new();
    for r in &p.rules {
        if let Some(first) = first_by_name.get(r.name.as_str()) {
            out.push(format!(
                "{}.name: {:?} is also the name of policy.rules[{first}]; names appear in the audit trail and must be unique",
                r.key(),
                r.name
            ));
        } else {
            first_by_name.insert(&r.name, r.index);
        }
    }

    let dead: Vec<bool> = p.rules.iter().map(|r| dead_reasons(r, &mut out)).collect();
    contradictions(p, &dead, &mut out);
    prefer(p, &dead, &mut out);

    for r in &p.rules {
        if let Some(s) = r.max_session_seconds {
            if s > p.max_session_seconds {
                out.push(format!(
                    "{}.max_session_seconds: {s} is above policy.max_session_seconds ({}), so it has no effect",
                    r.key(),
                    p.max_session_seconds
                ));
            }
        }
    }
    if p.default_session_seconds > p.max_session_seconds {
        out.push(format!(
            "policy.default_session_seconds: {} is above policy.max_session_seconds ({}); sessions without a SessionDuration claim get {} s",
            p.default_session_seconds, p.max_session_seconds, p.max_session_seconds
        ));
    }
    for (id, alias) in &p.accounts {
        if !is_account_id(id) {
            out.push(format!(
                "policy.accounts.{id}: {id:?} is not a 12-digit AWS account id; write it in quotes with all 12 digits, e.g. \"012345678901\" = \"production\""
            ));
        }
        if alias.trim().is_empty() {
            out.push(format!("policy.accounts.{id}: the alias is empty"));
        }
    }
    out
}
