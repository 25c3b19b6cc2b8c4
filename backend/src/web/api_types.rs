//! The JSON API's types (docs/api.md), defined once. The handlers serialize
//! these structs; `frontend/src/api-types.ts` is generated from their
//! descriptions ([`typescript`]) and compared with the committed file by the
//! integration test `api_types`.
//!
//! Each type describes its fields ([`ApiType::fields`]) with Rust types, and
//! gives two samples: every `Option` set and every `Vec` non-empty, then
//! every `Option` None and every `Vec` empty. [`check`] proves that each
//! description matches what serde emits for both samples (names, nullability,
//! arrays, nested types), so a description cannot drift from its struct.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A TypeScript type, as much of it as the API needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ts {
    String,
    Number,
    Boolean,
    /// `T | null`: a Rust `Option` serialized as `null` when None.
    Nullable(Box<Ts>),
    /// `T[]`.
    Array(Box<Ts>),
    /// Another generated interface, by its TypeScript name.
    Interface(&'static str),
}

impl Ts {
    fn render(&self) -> String {
        match self {
            Ts::String => "string".into(),
            Ts::Number => "number".into(),
            Ts::Boolean => "boolean".into(),
            Ts::Nullable(t) => format!("{} | null", t.render()),
            Ts::Array(t) if matches!(**t, Ts::Nullable(_)) => format!("({})[]", t.render()),
            Ts::Array(t) => format!("{}[]", t.render()),
            Ts::Interface(name) => (*name).into(),
        }
    }
}

/// The TypeScript type of a Rust field type.
pub trait TsType {
    fn ts() -> Ts;
}

impl TsType for String {
    fn ts() -> Ts {
        Ts::String
    }
}
impl TsType for bool {
    fn ts() -> Ts {
        Ts::Boolean
    }
}
impl TsType for u8 {
    fn ts() -> Ts {
        Ts::Number
    }
}
impl TsType for i32 {
    fn ts() -> Ts {
        Ts::Number
    }
}
impl<T: TsType> TsType for Option<T> {
    fn ts() -> Ts {
        Ts::Nullable(Box::new(T::ts()))
    }
}
impl<T: TsType> TsType for Vec<T> {
    fn ts() -> Ts {
        Ts::Array(Box::new(T::ts()))
    }
}
impl<T: ApiType> TsType for T {
    fn ts() -> Ts {
        Ts::Interface(T::NAME)
    }
}

/// One field of an API type: its JSON name and TypeScript type.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub ts: Ts,
    /// An `Option<ts>` that serde leaves out when None (`skip_serializing_if`):
    /// `name?: ts`, never `null`.
    pub omitted_when_none: bool,
}

/// A field of Rust type `T`.
pub fn field<T: TsType>(name: &'static str) -> Field {
    Field {
        name,
        ts: T::ts(),
        omitted_when_none: false,
    }
}

/// An `Option<T>` field that serde leaves out when None.
pub fn omitted_when_none<T: TsType>(name: &'static str) -> Field {
    Field {
        name,
        ts: T::ts(),
        omitted_when_none: true,
    }
}

/// A type of the JSON API, with its TypeScript description.
pub trait ApiType: Serialize + Sized {
    /// The TypeScript interface's name.
    const NAME: &'static str;
    /// The interface's doc comment.
    const DOC: &'static str;
    /// The fields, in the order serde writes them.
    fn fields() -> Vec<Field>;
    /// Every `Option` Some and every `Vec` non-empty; then every `Option`
    /// None and every `Vec` empty.
    fn samples() -> [Self; 2];
}

/// An API type's description with its two samples serialized.
#[derive(Debug, Clone)]
pub struct Described {
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: Vec<Field>,
    /// `[full, empty]`.
    pub samples: [Value; 2],
}

fn describe<T: ApiType>() -> Described {
    let [full, empty] = T::samples();
    let json = |v: T| serde_json::to_value(v).unwrap_or(Value::Null);
    Described {
        name: T::NAME,
        doc: T::DOC,
        fields: T::fields(),
        samples: [json(full), json(empty)],
    }
}

/// Every API type, in the order of the generated file.
pub fn all() -> Vec<Described> {
    vec![
        describe::<RoleJson>(),
        describe::<SessionJson>(),
        describe::<RoleRequest>(),
        describe::<CredentialsJson>(),
        describe::<AppConfigJson>(),
        describe::<ApiEndpointJson>(),
        describe::<ErrorJson>(),
        describe::<SignedOutJson>(),
    ]
}

/// `frontend/src/api-types.ts`.
pub fn typescript() -> String {
    let mut out = String::from(
        "// Generated from backend/src/web/api_types.rs: do not edit by hand.\n\
         // The test `api_types` (backend/tests/it/api_types.rs) checks that this file is up to date;\n\
         // after changing the Rust types, regenerate it with\n\
         //   UPDATE_API_TYPES=1 cargo test -p saml-broker --test it api_types\n",
    );
    for d in all() {
        out.push_str(&format!(
            "\n/** {} */\nexport interface {} {{\n",
            d.doc, d.name
        ));
        for f in &d.fields {
            let mark = if f.omitted_when_none { "?" } else { "" };
            out.push_str(&format!("  {}{mark}: {};\n", f.name, f.ts.render()));
        }
        out.push_str("}\n");
    }
    out
}

/// Checks every description against its samples; the problems, if any.
pub fn check() -> Vec<String> {
    let types = all();
    let mut problems = Vec::new();
    for d in &types {
        for (i, sample) in d.samples.iter().enumerate() {
            let which = if i == 0 { "full" } else { "empty" };
            check_object(&types, d, sample, Some(i == 0), &mut |p| {
                problems.push(format!("{} ({which} sample): {p}", d.name));
            });
        }
    }
    problems
}

/// `full`: Some(true) for the full sample, Some(false) for the empty one,
/// None for a nested value (only its shape is checked).
fn check_object(
    types: &[Described],
    d: &Described,
    value: &Value,
    full: Option<bool>,
    report: &mut dyn FnMut(String),
) {
    let Some(obj) = value.as_object() else {
        return report(format!("serializes to {value}, not an object"));
    };
    for key in obj.keys() {
        if !d.fields.iter().any(|f| f.name == key) {
            report(format!("serde writes `{key}`, which the description lacks"));
        }
    }
    for f in &d.fields {
        let Some(v) = obj.get(f.name) else {
            if !(f.omitted_when_none && full != Some(true)) {
                report(format!("`{}` is missing from the JSON", f.name));
            }
            continue;
        };
        if f.omitted_when_none && full == Some(false) {
            report(format!("`{}` should be left out when None", f.name));
        }
        match (&f.ts, full) {
            (Ts::Nullable(_), Some(true)) if v.is_null() => {
                report(format!("`{}` is null in the full sample", f.name))
            }
            (Ts::Nullable(_), Some(false)) if !v.is_null() => {
                report(format!("`{}` is not null in the empty sample", f.name))
            }
            (Ts::Array(_), Some(true)) if v.as_array().is_some_and(Vec::is_empty) => {
                report(format!("`{}` is empty in the full sample", f.name))
            }
            (Ts::Array(_), Some(false)) if v.as_array().is_some_and(|a| !a.is_empty()) => {
                report(format!("`{}` is not empty in the empty sample", f.name))
            }
            _ => {}
        }
        check_value(types, &f.ts, v, &mut |p| {
            report(format!("`{}`: {p}", f.name))
        });
    }
}

fn check_value(types: &[Described], ts: &Ts, v: &Value, report: &mut dyn FnMut(String)) {
    let ok = match ts {
        Ts::String => v.is_string(),
        Ts::Number => v.is_number(),
        Ts::Boolean => v.is_boolean(),
        Ts::Nullable(t) => {
            return if !v.is_null() {
                check_value(types, t, v, report)
            }
        }
        Ts::Array(t) => match v.as_array() {
            Some(items) => return items.iter().for_each(|i| check_value(types, t, i, report)),
            None => false,
        },
        Ts::Interface(name) => match types.iter().find(|d| d.name == *name) {
            Some(d) => return check_object(types, d, v, None, report),
            None => return report(format!("no API type is named {name}")),
        },
    };
    if !ok {
        report(format!("serde writes {v}, described as {}", ts.render()));
    }
}

/// One role the policy allows, as listed by `GET /api/session`.
#[derive(Debug, Clone, Serialize)]
pub struct RoleJson {
    pub role_arn: String,
    pub provider_arn: String,
    pub account_id: String,
    /// `null` when the policy names no alias for the account.
    pub account_alias: Option<String>,
    pub role_name: String,
    pub duration_seconds: i32,
}

impl ApiType for RoleJson {
    const NAME: &'static str = "RoleInfo";
    const DOC: &'static str = "One role the policy allows, as listed by `GET /api/session`.";
    fn fields() -> Vec<Field> {
        vec![
            field::<String>("role_arn"),
            field::<String>("provider_arn"),
            field::<String>("account_id"),
            field::<Option<String>>("account_alias"),
            field::<String>("role_name"),
            field::<i32>("duration_seconds"),
        ]
    }
    fn samples() -> [Self; 2] {
        let full = RoleJson {
            role_arn: "arn:aws:iam::210987654321:role/ReadOnly".into(),
            provider_arn: "arn:aws:iam::210987654321:saml-provider/DevIdP".into(),
            account_id: "210987654321".into(),
            account_alias: Some("staging".into()),
            role_name: "ReadOnly".into(),
            duration_seconds: 7200,
        };
        let empty = RoleJson {
            account_alias: None,
            ..full.clone()
        };
        [full, empty]
    }
}

/// The answer of `GET /api/session` and `POST /api/role`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionJson {
    pub subject: String,
    pub session_name: Option<String>,
    pub groups: Vec<String>,
    pub roles: Vec<RoleJson>,
    /// The role in use; `null` before the person chooses.
    pub role_arn: Option<String>,
    pub principal_arn: Option<String>,
    /// When the session ends.
    pub expiration: String,
    /// When the current credentials end; `null` with no role in use.
    pub credentials_expiration: Option<String>,
    pub duration_fallback: bool,
    pub is_admin: bool,
    pub csrf_token: String,
    pub region: String,
    pub endpoint_url: Option<String>,
}

impl ApiType for SessionJson {
    const NAME: &'static str = "Session";
    const DOC: &'static str = "The answer of `GET /api/session` and `POST /api/role`.";
    fn fields() -> Vec<Field> {
        vec![
            field::<String>("subject"),
            field::<Option<String>>("session_name"),
            field::<Vec<String>>("groups"),
            field::<Vec<RoleJson>>("roles"),
            field::<Option<String>>("role_arn"),
            field::<Option<String>>("principal_arn"),
            field::<String>("expiration"),
            field::<Option<String>>("credentials_expiration"),
            field::<bool>("duration_fallback"),
            field::<bool>("is_admin"),
            field::<String>("csrf_token"),
            field::<String>("region"),
            field::<Option<String>>("endpoint_url"),
        ]
    }
    fn samples() -> [Self; 2] {
        let [role, _] = RoleJson::samples();
        let full = SessionJson {
            subject: "bob@example.com".into(),
            session_name: Some("bob@example.com".into()),
            groups: vec!["Developers".into(), "Operators".into()],
            role_arn: Some(role.role_arn.clone()),
            roles: vec![role],
            principal_arn: Some(
                "arn:aws:sts::210987654321:assumed-role/ReadOnly/bob@example.com".into(),
            ),
            expiration: "2026-11-26T03:00:00Z".into(),
            credentials_expiration: Some("2026-11-25T17:00:00Z".into()),
            duration_fallback: false,
            is_admin: false,
            csrf_token: "csrf".into(),
            region: "us-east-1".into(),
            endpoint_url: Some("http://127.0.0.1:5000".into()),
        };
        let empty = SessionJson {
            session_name: None,
            groups: vec![],
            roles: vec![],
            role_arn: None,
            principal_arn: None,
            credentials_expiration: None,
            endpoint_url: None,
            ..full.clone()
        };
        [full, empty]
    }
}

/// The body of `POST /api/role`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleRequest {
    pub role_arn: String,
}

impl ApiType for RoleRequest {
    const NAME: &'static str = "RoleRequest";
    const DOC: &'static str = "The body of `POST /api/role`.";
    fn fields() -> Vec<Field> {
        vec![field::<String>("role_arn")]
    }
    fn samples() -> [Self; 2] {
        let r = RoleRequest {
            role_arn: "arn:aws:iam::210987654321:role/ReadOnly".into(),
        };
        [r.clone(), r]
    }
}

/// The answer of `GET /api/credentials`: the AWS credential_process shape
/// plus `RoleArn` and `Region`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CredentialsJson {
    pub version: u8,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: String,
    pub role_arn: String,
    pub region: String,
}

impl ApiType for CredentialsJson {
    const NAME: &'static str = "CredentialsJson";
    const DOC: &'static str = "The answer of `GET /api/credentials`: the `credential_process` shape plus `RoleArn` and `Region`.";
    fn fields() -> Vec<Field> {
        vec![
            field::<u8>("Version"),
            field::<String>("AccessKeyId"),
            field::<String>("SecretAccessKey"),
            field::<String>("SessionToken"),
            field::<String>("Expiration"),
            field::<String>("RoleArn"),
            field::<String>("Region"),
        ]
    }
    fn samples() -> [Self; 2] {
        let c = CredentialsJson {
            version: 1,
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration: "2026-11-25T17:00:00Z".into(),
            role_arn: "arn:aws:iam::210987654321:role/ReadOnly".into(),
            region: "us-east-1".into(),
        };
        [c.clone(), c]
    }
}

/// The answer of `GET /api/app-config`: where the browser app sends its AWS calls.
#[derive(Debug, Clone, Serialize)]
pub struct AppConfigJson {
    pub region: String,
    pub sts_endpoint: String,
    pub api_endpoints: Vec<ApiEndpointJson>,
}

impl ApiType for AppConfigJson {
    const NAME: &'static str = "AppConfig";
    const DOC: &'static str = "The answer of `GET /api/app-config`.";
    fn fields() -> Vec<Field> {
        vec![
            field::<String>("region"),
            field::<String>("sts_endpoint"),
            field::<Vec<ApiEndpointJson>>("api_endpoints"),
        ]
    }
    fn samples() -> [Self; 2] {
        let [endpoint, _] = ApiEndpointJson::samples();
        let full = AppConfigJson {
            region: "us-east-1".into(),
            sts_endpoint: "https://sts.us-east-1.amazonaws.com".into(),
            api_endpoints: vec![endpoint],
        };
        let empty = AppConfigJson {
            api_endpoints: vec![],
            ..full.clone()
        };
        [full, empty]
    }
}

/// One API endpoint the browser app offers a button for.
#[derive(Debug, Clone, Serialize)]
pub struct ApiEndpointJson {
    pub name: String,
    pub url: String,
    pub region: String,
    pub method: String,
    /// The SigV4 signing name (`execute-api` unless configured).
    pub service: String,
}

impl ApiType for ApiEndpointJson {
    const NAME: &'static str = "ApiEndpoint";
    const DOC: &'static str =
        "One API endpoint the page offers a button for; `service` is its SigV4 signing name.";
    fn fields() -> Vec<Field> {
        vec![
            field::<String>("name"),
            field::<String>("url"),
            field::<String>("region"),
            field::<String>("method"),
            field::<String>("service"),
        ]
    }
    fn samples() -> [Self; 2] {
        let e = ApiEndpointJson {
            name: "PING".into(),
            url: "https://abc.execute-api.us-east-1.amazonaws.com/prod/ping".into(),
            region: "us-east-1".into(),
            method: "GET".into(),
            service: "execute-api".into(),
        };
        [e.clone(), e]
    }
}

/// Every JSON error of the API.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorJson {
    /// The error code (`not_signed_in`, `csrf`, an AWS error code…).
    pub error: String,
    /// Plain words.
    pub message: String,
    pub request_id: String,
    /// A `/saml/login` path, when a fresh sign-in is the way forward.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
}

impl ApiType for ErrorJson {
    const NAME: &'static str = "ApiErrorJson";
    const DOC: &'static str =
        "Every JSON error of the API; `login_url` only when a fresh sign-in is the way forward.";
    fn fields() -> Vec<Field> {
        vec![
            field::<String>("error"),
            field::<String>("message"),
            field::<String>("request_id"),
            omitted_when_none::<String>("login_url"),
        ]
    }
    fn samples() -> [Self; 2] {
        let full = ErrorJson {
            error: "credentials_expired".into(),
            message: "Your AWS credentials have expired. Please sign in again.".into(),
            request_id: "req-1".into(),
            login_url: Some("/saml/login?role=x&return_to=%2Fapp%2F".into()),
        };
        let empty = ErrorJson {
            login_url: None,
            ..full.clone()
        };
        [full, empty]
    }
}

/// The answer of `POST /logout` with `Accept: application/json`.
#[derive(Debug, Clone, Serialize)]
pub struct SignedOutJson {
    pub signed_out: bool,
}

impl ApiType for SignedOutJson {
    const NAME: &'static str = "SignedOut";
    const DOC: &'static str = "The answer of `POST /logout` with `Accept: application/json`.";
    fn fields() -> Vec<Field> {
        vec![field::<bool>("signed_out")]
    }
    fn samples() -> [Self; 2] {
        [
            SignedOutJson { signed_out: true },
            SignedOutJson { signed_out: true },
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_description_matches_what_serde_writes() {
        let problems = check();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn the_check_notices_a_description_that_drifted() {
        let mut types = all();
        let role = types.iter_mut().find(|d| d.name == "RoleInfo").unwrap();
        // As the hand-written TS had it: `account_alias: string`, and a field serde does not write.
        role.fields[3] = field::<String>("account_alias");
        role.fields.push(field::<String>("alias"));
        let mut problems = Vec::new();
        let d = role.clone();
        check_object(&types, &d, &d.samples[1], Some(false), &mut |p| {
            problems.push(p)
        });
        assert_eq!(
            problems,
            [
                "`account_alias`: serde writes null, described as string",
                "`alias` is missing from the JSON"
            ]
        );
    }

    #[test]
    fn nullable_arrays_and_omitted_fields_render_as_typescript() {
        let ts = typescript();
        assert!(ts.contains("  account_alias: string | null;\n"), "{ts}");
        assert!(ts.contains("  roles: RoleInfo[];\n"), "{ts}");
        assert!(ts.contains("  login_url?: string;\n"), "{ts}");
        assert!(ts.contains("  expiration: string;\n"), "{ts}");
        assert_eq!(
            Ts::Array(Box::new(Option::<String>::ts())).render(),
            "(string | null)[]"
        );
    }
}
