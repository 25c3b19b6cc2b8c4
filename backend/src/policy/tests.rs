#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::saml::claims::ProviderArn;

const PROV: &str = "arn:aws:iam::111111111111:saml-provider/ADFS";
const DEV: &str = "arn:aws:iam::111111111111:role/Developer";
const RO: &str = "arn:aws:iam::111111111111:role/ReadOnly";
const ADMIN: &str = "arn:aws:iam::222222222222:role/Admin";
const PROD_RO: &str = "arn:aws:iam::222222222222:role/ReadOnly";

/// Parse a configuration file's text and load its `[policy]` section.
fn try_load(text: &str, base: &Path) -> Result<Policy, PolicyError> {
    let full: toml::Table = text.parse().unwrap();
    let t = match full.get("policy") {
        Some(toml::Value::Table(t)) => t.clone(),
        None => toml::Table::new(),
        Some(other) => panic!("policy is {other:?}"),
    };
    Policy::from_table(&t, base)
}

fn load(text: &str) -> Policy {
    try_load(text, Path::new("/nonexistent")).unwrap()
}

fn err(text: &str) -> String {
    try_load(text, Path::new("/nonexistent"))
        .unwrap_err()
        .to_string()
}

fn arn(s: &str) -> RoleArn {
    RoleArn::parse(s).unwrap()
}

fn claims(roles: &[&str], groups: &[&str]) -> Claims {
    Claims {
        name_id: "alice@example.com".into(),
        roles: roles
            .iter()
            .map(|r| RoleGrant {
                role: arn(r),
                provider: ProviderArn::parse(PROV).unwrap(),
            })
            .collect(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..Default::default()
    }
}

fn role_of(d: &Decision) -> &str {
    match d {
        Decision::Role(r) => r.grant.role.as_str(),
        other => panic!("expected one role, got {other:?}"),
    }
}

fn choices(d: &Decision) -> Vec<&str> {
    match d {
        Decision::Choose(v) => v.iter().map(|r| r.grant.role.as_str()).collect(),
        other => panic!("expected a choice, got {other:?}"),
    }
}

fn denial(d: &Decision) -> &Denial {
    match d {
        Decision::Deny(d) => d,
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn lint_of(text: &str) -> Vec<String> {
    load(text).lint()
}

// ---- empty policy -------------------------------------------------------

#[test]
fn empty_policy_allows_everything() {
    let p = load("");
    assert!(p.is_empty());
    assert!(p.lint().is_empty(), "{:?}", p.lint());
    let d = p.decide(&claims(&[DEV], &[]), None);
    assert_eq!(role_of(&d), DEV);
    let Decision::Role(r) = d else { unreachable!() };
    assert_eq!(r.rule, None);
    assert_eq!(r.duration_seconds, 3600);
    assert_eq!(r.session_policy, None);
    assert_eq!(
        choices(&p.decide(&claims(&[DEV, RO], &[]), None)),
        vec![DEV, RO]
    );
    assert_eq!(p.allowed(&claims(&[DEV, RO], &[])).len(), 2);
    // Same as a config without [policy] at all.
    let d = Policy::default().decide(&claims(&[DEV, RO, ADMIN], &[]), None);
    assert_eq!(choices(&d).len(), 3);
}

#[test]
fn no_roles_at_all() {
    let mut c = claims(&[], &[]);
    c.malformed_roles.push(crate::saml::claims::MalformedRole {
        value: "junk".into(),
        problem: "expected two comma-separated ARNs, found 1 part(s)".into(),
    });
    let d = load("").decide(&c, None);
    let den = denial(&d);
    assert_eq!(den.reason, "Your sign-in did not include any AWS role.");
    assert!(den.detail.contains("junk"), "{}", den.detail);
}

// ---- conditions ---------------------------------------------------------

#[test]
fn pick_by_group() {
    let p = load(
        r#"
[[policy.rules]]
name = "developers"
groups = ["AWS-Developers"]
roles = ["arn:aws:iam::*:role/Developer"]

[[policy.rules]]
name = "readers"
groups = ["AWS-Readers", "AWS-Developers"]
roles = ["arn:aws:iam::*:role/ReadOnly"]
"#,
    );
    assert!(p.lint().is_empty(), "{:?}", p.lint());
    let d = p.decide(&claims(&[DEV, RO], &["AWS-Readers"]), None);
    assert_eq!(role_of(&d), RO);
    let Decision::Role(r) = d else { unreachable!() };
    assert_eq!(r.rule.as_deref(), Some("readers"));
    let d = p.decide(&claims(&[DEV, RO], &["AWS-Developers"]), None);
    assert_eq!(choices(&d), vec![DEV, RO]);
    let d = p.decide(&claims(&[DEV, RO], &["Sales"]), None);
    let den = denial(&d);
    assert_eq!(
        den.reason,
        "None of your AWS roles may be used through this application."
    );
    assert!(
        den.detail.contains(DEV) && den.detail.contains(RO),
        "{}",
        den.detail
    );
    assert!(den.detail.contains("none of the groups"), "{}", den.detail);
    assert!(
        den.detail.contains("rule \"developers\" (policy.rules[0])"),
        "{}",
        den.detail
    );
}

#[test]
fn allow_by_role_pattern() {
    let p = load(
        r#"
[[policy.rules]]
name = "dev-roles"
roles = ["arn:aws:iam::111111111111:role/Dev*", "*:role/Read?nly"]
"#,
    );
    let c = claims(&[DEV, ADMIN, RO], &[]);
    assert_eq!(choices(&p.decide(&c, None)), vec![DEV, RO]);
    let d = p.decide(&claims(&[ADMIN], &[]), None);
    assert!(denial(&d).detail.contains("matches none of"), "{:?}", d);
}

#[test]
fn deny_beats_allow() {
    let p = load(
        r#"
[[policy.rules]]
name = "everyone"
roles = ["*"]

[[policy.rules]]
name = "no-admin"
effect = "deny"
roles = ["*:role/Admin"]
"#,
    );
    assert!(p.lint().is_empty(), "{:?}", p.lint());
    let d = p.decide(&claims(&[ADMIN, DEV], &[]), None);
    assert_eq!(role_of(&d), DEV);
    let d = p.decide(&claims(&[ADMIN], &[]), None);
    let den = denial(&d);
    assert!(
        den.detail
            .contains("denied by rule \"no-admin\" (policy.rules[1])"),
        "{}",
        den.detail
    );
    // A deny rule alone (no allow rules) removes its roles from "everything".
    let p = load(
        r#"
[[policy.rules]]
name = "no-admin"
effect = "deny"
roles = ["*:role/Admin"]
"#,
    );
    assert_eq!(role_of(&p.decide(&claims(&[ADMIN, DEV], &[]), None)), DEV);
}

#[test]
fn account_filter() {
    let p = load(
        r#"
[[policy.rules]]
name = "sandbox-only"
accounts = ["111111111111"]
"#,
    );
    assert_eq!(
        choices(&p.decide(&claims(&[DEV, ADMIN, RO, PROD_RO], &[]), None)),
        vec![DEV, RO]
    );
    let d = p.decide(&claims(&[ADMIN], &[]), None);
    assert!(
        denial(&d)
            .detail
            .contains("account 222222222222 is not one of"),
        "{d:?}"
    );
}

#[test]
fn require_tags() {
    let p = load(
        r#"
[[policy.rules]]
name = "platform-team"
require_tags = { Department = "Platform" }
"#,
    );
    let mut c = claims(&[DEV], &[]);
    let d = p.decide(&c, None);
    assert!(
        denial(&d).detail.contains("no PrincipalTag Department"),
        "{d:?}"
    );
    c.principal_tags = vec![("Department".into(), "Sales".into())];
    let d = p.decide(&c, None);
    assert!(denial(&d).detail.contains("is \"Sales\""), "{d:?}");
    c.principal_tags = vec![
        ("CostCenter".into(), "42".into()),
        ("Department".into(), "Platform".into()),
    ];
    let Decision::Role(r) = p.decide(&c, None) else {
        panic!("expected a role")
    };
    assert_eq!(r.rule.as_deref(), Some("platform-team"));
    assert_eq!(
        r.session_tags, c.principal_tags,
        "tags travel with the role"
    );
}

#[test]
fn rule_without_effect_key_allows_and_first_allow_rule_wins() {
    let p = load(
        r#"
[[policy.rules]]
name = "short"
roles = ["*:role/Developer"]
max_session_seconds = 1800

[[policy.rules]]
name = "all"
"#,
    );
    let a = p.allowed(&claims(&[DEV, RO], &[]));
    assert_eq!(a[0].rule.as_deref(), Some("short"));
    assert_eq!(a[0].duration_seconds, 1800);
    assert_eq!(a[1].rule.as_deref(), Some("all"));
    assert_eq!(a[1].duration_seconds, 3600);
}

// ---- choosing -----------------------------------------------------------

#[test]
fn prefer() {
    let p = load(
        r#"
[policy]
prefer = ["arn:aws:iam::*:role/ReadOnly", "*:role/Developer"]
"#,
    );
    assert!(p.lint().is_empty(), "{:?}", p.lint());
    // The earliest pattern wins even though the role comes later in the assertion.
    assert_eq!(
        role_of(&p.decide(&claims(&[ADMIN, DEV, RO], &[]), None)),
        RO
    );
    // Two roles match the first pattern: the first in assertion order.
    assert_eq!(
        role_of(&p.decide(&claims(&[PROD_RO, DEV, RO], &[]), None)),
        PROD_RO
    );
    assert_eq!(role_of(&p.decide(&claims(&[ADMIN, DEV], &[]), None)), DEV);
    // Nothing preferred: ask.
    assert_eq!(
        choices(&p.decide(
            &claims(&[ADMIN, DEV.replace("Developer", "Ops").as_str()], &[]),
            None
        ))
        .len(),
        2
    );
}

#[test]
fn prefer_only_among_allowed_roles() {
    let p = load(
        r#"
[policy]
prefer = ["*:role/Admin"]

[[policy.rules]]
name = "no-admin"
effect = "deny"
roles = ["*:role/Admin"]
"#,
    );
    assert_eq!(
        choices(&p.decide(&claims(&[ADMIN, DEV, RO], &[]), None)),
        vec![DEV, RO]
    );
}

#[test]
fn ask_false_takes_the_first() {
    let p = load("[policy]\nask = false\n");
    assert_eq!(
        role_of(&p.decide(&claims(&[ADMIN, DEV, RO], &[]), None)),
        ADMIN
    );
    // As an environment override (a string).
    let p = load("[policy]\nask = \"false\"\n");
    assert_eq!(role_of(&p.decide(&claims(&[RO, DEV], &[]), None)), RO);
}

#[test]
fn choose_with_three_roles() {
    let p = load(
        r#"
[policy]
ask = true
[[policy.rules]]
name = "all"
roles = ["arn:aws:iam::*:role/*"]
"#,
    );
    let d = p.decide(&claims(&[DEV, ADMIN, RO], &[]), None);
    assert_eq!(choices(&d), vec![DEV, ADMIN, RO]);
    let Decision::Choose(v) = d else {
        unreachable!()
    };
    assert!(v.iter().all(|r| r.rule.as_deref() == Some("all")));
}

// ---- requested role -----------------------------------------------------

const REQ_POLICY: &str = r#"
[policy.accounts]
"222222222222" = "production"

[[policy.rules]]
name = "devs"
roles = ["*:role/Developer", "*:role/ReadOnly", "*:role/Admin"]

[[policy.rules]]
name = "no-prod-admin"
effect = "deny"
roles = ["arn:aws:iam::222222222222:role/Admin"]
"#;

#[test]
fn requested_role_allowed() {
    let p = load(REQ_POLICY);
    let c = claims(&[DEV, RO, ADMIN], &[]);
    assert_eq!(choices(&p.decide(&c, None)), vec![DEV, RO]);
    assert_eq!(role_of(&p.decide(&c, Some(&arn(RO)))), RO);
}

#[test]
fn requested_role_not_allowed() {
    let p = load(REQ_POLICY);
    let c = claims(&[DEV, ADMIN], &[]);
    let d = p.decide(&c, Some(&arn(ADMIN)));
    let den = denial(&d);
    assert!(den.reason.contains(ADMIN), "{}", den.reason);
    assert!(den.reason.contains("(production)"), "{}", den.reason);
    assert!(den.reason.contains("\"no-prod-admin\""), "{}", den.reason);
    assert!(
        den.detail
            .contains("denied by rule \"no-prod-admin\" (policy.rules[1])"),
        "{}",
        den.detail
    );

    let outside = "arn:aws:iam::111111111111:role/Ops";
    let d = p.decide(&claims(&[DEV, outside], &[]), Some(&arn(outside)));
    let den = denial(&d);
    assert!(
        den.reason.contains(outside) && den.reason.contains("no rule allows it"),
        "{}",
        den.reason
    );
    assert!(
        den.detail.contains("no allow rule matches"),
        "{}",
        den.detail
    );
}

#[test]
fn requested_role_not_in_assertion() {
    let p = load(REQ_POLICY);
    let d = p.decide(&claims(&[DEV], &[]), Some(&arn(RO)));
    let den = denial(&d);
    assert!(
        den.reason
            .starts_with("Your sign-in does not grant the role"),
        "{}",
        den.reason
    );
    assert!(
        den.detail.contains("not in the assertion") && den.detail.contains(DEV),
        "{}",
        den.detail
    );
    // Also with no policy at all.
    let d = Policy::default().decide(&claims(&[DEV], &[]), Some(&arn(RO)));
    assert!(matches!(d, Decision::Deny(_)));
}

// ---- session duration ---------------------------------------------------

fn duration(p: &Policy, claim: Option<u32>) -> i32 {
    let mut c = claims(&[DEV], &[]);
    c.session_duration = claim;
    match p.decide(&c, None) {
        Decision::Role(r) => r.duration_seconds,
        other => panic!("{other:?}"),
    }
}

#[test]
fn duration_without_caps() {
    let p = Policy::default();
    assert_eq!(duration(&p, None), 3600);
    assert_eq!(duration(&p, Some(900)), 900);
    assert_eq!(duration(&p, Some(43200)), 43200);
    let p = load("[policy]\ndefault_session_seconds = 900\n");
    assert_eq!(duration(&p, None), 900);
    let p = load("[policy]\ndefault_session_seconds = \"7200\"\n");
    assert_eq!(duration(&p, None), 7200);
}

#[test]
fn duration_caps() {
    let p = load(
        r#"
[policy]
max_session_seconds = 14400
[[policy.rules]]
name = "devs"
max_session_seconds = 900
roles = ["*:role/Developer"]
[[policy.rules]]
name = "rest"
"#,
    );
    assert_eq!(duration(&p, Some(43200)), 900);
    assert_eq!(duration(&p, Some(900)), 900);
    assert_eq!(duration(&p, None), 900);
    let mut c = claims(&[RO], &[]);
    c.session_duration = Some(43200);
    assert_eq!(p.allowed(&c)[0].duration_seconds, 14400, "global cap");
    c.session_duration = Some(900);
    assert_eq!(p.allowed(&c)[0].duration_seconds, 900);
    c.session_duration = None;
    assert_eq!(p.allowed(&c)[0].duration_seconds, 3600);

    // The default above the global cap is capped.
    let p = load("[policy]\nmax_session_seconds = 900\ndefault_session_seconds = 3600\n");
    assert_eq!(duration(&p, None), 900);
    assert_eq!(duration(&p, Some(43200)), 900);
    assert!(p
        .lint()
        .iter()
        .any(|l| l.contains("policy.default_session_seconds")));
}

#[test]
fn duration_out_of_range_is_an_error() {
    let e = err("[policy]\nmax_session_seconds = 899\n");
    assert!(
        e.contains("policy.max_session_seconds") && e.contains("900"),
        "{e}"
    );
    let e = err("[[policy.rules]]\nname = \"x\"\nmax_session_seconds = 43201\n");
    assert!(
        e.contains("policy.rules[0].max_session_seconds") && e.contains("43200"),
        "{e}"
    );
    let e = err("[policy]\ndefault_session_seconds = \"soon\"\n");
    assert!(
        e.contains("policy.default_session_seconds") && e.contains("whole number"),
        "{e}"
    );
}

// ---- session policy -----------------------------------------------------

const SP: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [ { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" } ]
}"#;

#[test]
fn session_policy_inline() {
    let p = load(&format!(
        "[[policy.rules]]\nname = \"readers\"\nsession_policy = '''{SP}'''\n"
    ));
    let Decision::Role(r) = p.decide(&claims(&[RO], &[]), None) else {
        panic!()
    };
    let packed = r.session_policy.unwrap();
    assert!(!packed.contains(' ') && !packed.contains('\n'), "{packed}");
    let v: serde_json::Value = serde_json::from_str(&packed).unwrap();
    assert_eq!(v["Statement"][0]["Action"], "s3:GetObject");
    assert_eq!(
        p.session_policy_key().as_deref(),
        Some("policy.rules[0].session_policy")
    );
    assert_eq!(Policy::default().session_policy_key(), None);
}

#[test]
fn session_policy_from_file() {
    let dir = std::env::temp_dir().join(format!("policy-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("policies/read.json"), SP).unwrap();
    let text =
        "[[policy.rules]]\nname = \"readers\"\nsession_policy_file = \"policies/read.json\"\n";
    let p = try_load(text, &dir).unwrap();
    let a = p.allowed(&claims(&[RO], &[]));
    assert!(a[0]
        .session_policy
        .as_deref()
        .unwrap()
        .contains("s3:GetObject"));
    assert_eq!(
        p.session_policy_key().as_deref(),
        Some("policy.rules[0].session_policy_file")
    );

    // Missing file: the key and the path are named.
    let e = try_load(
        "[[policy.rules]]\nname = \"r\"\nsession_policy_file = \"nope.json\"\n",
        &dir,
    )
    .unwrap_err();
    assert_eq!(e.key(), "policy.rules[0].session_policy_file");
    assert!(e.to_string().contains("nope.json"), "{e}");

    // A file that is not JSON.
    std::fs::write(dir.join("bad.json"), "{ not json").unwrap();
    let e = try_load(
        "[[policy.rules]]\nname = \"r\"\nsession_policy_file = \"bad.json\"\n",
        &dir,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("policy.rules[0].session_policy_file") && e.contains("not valid JSON"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_session_policy_names_the_key() {
    let e = err("[[policy.rules]]\nname = \"a\"\n[[policy.rules]]\nname = \"b\"\nsession_policy = '{\"Statement\": ['\n");
    assert!(e.contains("`policy.rules[1].session_policy`"), "{e}");
    assert!(e.contains("not valid JSON"), "{e}");
    let e = err("[[policy.rules]]\nname = \"a\"\nsession_policy = '[1, 2]'\n");
    assert!(
        e.contains("policy.rules[0].session_policy") && e.contains("JSON object"),
        "{e}"
    );
    let e =
        err("[[policy.rules]]\nname = \"a\"\nsession_policy = '{\"Version\": \"2012-10-17\"}'\n");
    assert!(e.contains("Statement"), "{e}");
    let long = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}/*"}}]}}"#,
        "b".repeat(2000)
    );
    let e = err(&format!(
        "[[policy.rules]]\nname = \"a\"\nsession_policy = '{long}'\n"
    ));
    assert!(
        e.contains("policy.rules[0].session_policy") && e.contains("2048"),
        "{e}"
    );
    let e = err(&format!(
        "[[policy.rules]]\nname = \"a\"\nsession_policy = '''{SP}'''\nsession_policy_file = \"x.json\"\n"
    ));
    assert!(e.contains("not both"), "{e}");
}

// ---- configuration errors -----------------------------------------------

#[test]
fn config_errors_name_the_key() {
    let e = err("[policy]\nprefered = []\n");
    assert!(
        e.contains("`policy.prefered`") && e.contains("prefer"),
        "{e}"
    );
    let e = err("[[policy.rules]]\nname = \"a\"\ngroup = [\"x\"]\n");
    assert!(
        e.contains("`policy.rules[0].group`") && e.contains("groups"),
        "{e}"
    );
    let e = err("[[policy.rules]]\nroles = [\"*\"]\n");
    assert!(e.contains("policy.rules[0].name"), "{e}");
    let e = err("[[policy.rules]]\nname = \"a\"\neffect = \"block\"\n");
    assert!(
        e.contains("policy.rules[0].effect") && e.contains("\"deny\""),
        "{e}"
    );
    let e = err("[[policy.rules]]\nname = \"a\"\n[[policy.rules]]\nname = \"b\"\n[[policy.rules]]\nname = \"c\"\nroles = [\"*\", 7]\n");
    assert!(e.contains("`policy.rules[2].roles[1]`"), "{e}");
    let e = err("[[policy.rules]]\nname = \"a\"\nroles = [\"\"]\n");
    assert!(e.contains("`policy.rules[0].roles[0]`"), "{e}");
    let e = err("[[policy.rules]]\nname = \"a\"\neffect = \"deny\"\nmax_session_seconds = 900\n");
    assert!(
        e.contains("policy.rules[0].max_session_seconds") && e.contains("allow rules"),
        "{e}"
    );
    let e = err("[policy]\nask = \"maybe\"\n");
    assert!(e.contains("policy.ask"), "{e}");
    let e = err("[policy.accounts]\n\"111111111111\" = 5\n");
    assert!(e.contains("policy.accounts.111111111111"), "{e}");
    let e = err("[[policy.rules]]\nname = \"a\"\nrequire_tags = [\"x\"]\n");
    assert!(e.contains("policy.rules[0].require_tags"), "{e}");
    let e = err("[policy]\nrules = \"all\"\n");
    assert!(
        e.contains("policy.rules") && e.contains("[[policy.rules]]"),
        "{e}"
    );
}

#[test]
fn single_string_is_a_list_of_one() {
    let p =
        load("[[policy.rules]]\nname = \"a\"\ngroups = \"CN=AWS,OU=Groups,DC=example,DC=com\"\n");
    assert_eq!(
        role_of(&p.decide(
            &claims(&[DEV], &["CN=AWS,OU=Groups,DC=example,DC=com"]),
            None
        )),
        DEV
    );
}

// ---- aliases, summary ---------------------------------------------------

#[test]
fn account_aliases() {
    let p = load(
        "[policy.accounts]\n\"222222222222\" = \"production\"\n\"111111111111\" = \"sandbox\"\n",
    );
    assert_eq!(p.account_alias("222222222222"), Some("production"));
    assert_eq!(p.account_alias("333333333333"), None);
    assert_eq!(p.role_label(&arn(ADMIN)), format!("{ADMIN} (production)"));
    assert!(p.is_empty());
    assert!(p.lint().is_empty(), "{:?}", p.lint());
    assert!(p.summary().iter().any(|l| l.contains("production")));
}

#[test]
fn summary_names_every_rule() {
    let p = load(REQ_POLICY);
    let s = p.summary();
    assert!(
        s.iter()
            .any(|l| l.contains("\"devs\"") && l.contains("allow")),
        "{s:?}"
    );
    assert!(
        s.iter()
            .any(|l| l.contains("\"no-prod-admin\"") && l.contains("deny")),
        "{s:?}"
    );
}

#[test]
fn allowed_role_serializes() {
    let a = Policy::default().allowed(&claims(&[DEV], &[]));
    let json = serde_json::to_string(&a[0]).unwrap();
    let back: AllowedRole = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a[0]);
}

// ---- lint ---------------------------------------------------------------

#[test]
fn lint_never_matching_rule() {
    let l = lint_of(
        r#"
[[policy.rules]]
name = "typo"
roles = ["role/Admin", "Developer"]

[[policy.rules]]
name = "wrong-account"
accounts = ["111111111111"]
roles = ["arn:aws:iam::222222222222:role/*"]

[[policy.rules]]
name = "bad-account"
accounts = ["1111-1111-1111"]

[[policy.rules]]
name = "nobody"
groups = []

[[policy.rules]]
name = "fine"
"#,
    );
    let has = |needle: &str| l.iter().any(|x| x.contains(needle));
    assert!(
        has("policy.rules[0].roles[0]: \"role/Admin\" can never match"),
        "{l:#?}"
    );
    assert!(has("policy.rules[0].roles[1]"), "{l:#?}");
    assert!(
        has("policy.rules[0]: rule \"typo\" can never match"),
        "{l:#?}"
    );
    assert!(
        has("policy.rules[1].roles[0]") && has("accounts [\"111111111111\"]"),
        "{l:#?}"
    );
    assert!(
        has("policy.rules[2].accounts[0]: \"1111-1111-1111\" is not a 12-digit"),
        "{l:#?}"
    );
    assert!(has("policy.rules[3].groups"), "{l:#?}");
    assert!(!has("policy.rules[4]"), "{l:#?}");
}

#[test]
fn lint_contradiction() {
    let l = lint_of(
        r#"
[[policy.rules]]
name = "admins"
groups = ["AWS-Admins"]
roles = ["arn:aws:iam::*:role/Admin"]

[[policy.rules]]
name = "no-admin"
effect = "deny"
roles = ["*:role/Admin", "*:role/Root"]
"#,
    );
    assert_eq!(l.len(), 1, "{l:#?}");
    assert!(
        l[0].starts_with("policy.rules[0]: allow rule \"admins\" never admits a role"),
        "{l:#?}"
    );
    assert!(l[0].contains("\"no-admin\""), "{l:#?}");

    // A deny with a stronger condition (only some people) is no contradiction.
    let l = lint_of(
        r#"
[[policy.rules]]
name = "admins"
roles = ["arn:aws:iam::*:role/Admin"]

[[policy.rules]]
name = "no-admin-for-contractors"
effect = "deny"
groups = ["Contractors"]
roles = ["*"]
"#,
    );
    assert!(l.is_empty(), "{l:#?}");

    // Several deny rules together cover every pattern of the allow rule.
    let l = lint_of(
        r#"
[[policy.rules]]
name = "ops"
groups = ["Ops"]
require_tags = { Team = "ops" }
roles = ["*:role/Admin", "*:role/Root"]

[[policy.rules]]
name = "no-admin"
effect = "deny"
roles = ["*:role/Admin"]

[[policy.rules]]
name = "no-root-for-ops"
effect = "deny"
groups = ["Ops", "Dev"]
roles = ["*:role/Root"]
"#,
    );
    assert_eq!(l.len(), 1, "{l:#?}");
    assert!(l[0].contains("\"no-admin\", \"no-root-for-ops\""), "{l:#?}");

    // A deny with no conditions at all.
    let l = lint_of("[[policy.rules]]\nname = \"off\"\neffect = \"deny\"\n");
    assert!(
        l.iter()
            .any(|x| x.contains("denies every role to everyone")),
        "{l:#?}"
    );
}

#[test]
fn lint_bad_alias_key() {
    let l =
        lint_of("[policy.accounts]\n\"12345\" = \"production\"\n\"111111111111\" = \"sandbox\"\n");
    assert_eq!(l.len(), 1, "{l:#?}");
    assert!(
        l[0].starts_with("policy.accounts.12345:") && l[0].contains("12-digit"),
        "{l:#?}"
    );
}

#[test]
fn lint_unsatisfiable_prefer() {
    let l = lint_of(
        r#"
[policy]
prefer = ["arn:aws:iam::*:role/Admin", "ReadOnly", "arn:aws:iam::*:role/Developer"]

[[policy.rules]]
name = "devs"
roles = ["arn:aws:iam::*:role/Developer", "*:role/ReadOnly"]
"#,
    );
    assert_eq!(l.len(), 2, "{l:#?}");
    assert!(
        l[0].starts_with("policy.prefer[0]:") && l[0].contains("no role an allow rule admits"),
        "{l:#?}"
    );
    assert!(
        l[1].starts_with("policy.prefer[1]:") && l[1].contains("can never match"),
        "{l:#?}"
    );
    // Without allow rules any role ARN pattern is fine.
    assert!(lint_of("[policy]\nprefer = [\"*:role/Admin\"]\n").is_empty());
}

#[test]
fn lint_duplicate_names_and_useless_caps() {
    let l = lint_of(
        r#"
[policy]
max_session_seconds = 3600
[[policy.rules]]
name = "a"
roles = ["*:role/A"]
max_session_seconds = 7200
[[policy.rules]]
name = "a"
roles = ["*:role/B"]
"#,
    );
    assert!(
        l.iter()
            .any(|x| x.starts_with("policy.rules[1].name") && x.contains("policy.rules[0]")),
        "{l:#?}"
    );
    assert!(
        l.iter()
            .any(|x| x.starts_with("policy.rules[0].max_session_seconds")),
        "{l:#?}"
    );
}
