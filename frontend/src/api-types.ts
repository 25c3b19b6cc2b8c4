// Generated from backend/src/web/api_types.rs: do not edit by hand.
// The test `api_types` (backend/tests/it/api_types.rs) checks that this file is up to date;
// after changing the Rust types, regenerate it with
//   UPDATE_API_TYPES=1 cargo test -p saml-broker --test it api_types

/** One role the policy allows, as listed by `GET /api/session`. */
export interface RoleInfo {
  role_arn: string;
  provider_arn: string;
  account_id: string;
  account_alias: string | null;
  role_name: string;
  duration_seconds: number;
}

/** The answer of `GET /api/session` and `POST /api/role`. */
export interface Session {
  subject: string;
  session_name: string | null;
  groups: string[];
  roles: RoleInfo[];
  role_arn: string | null;
  principal_arn: string | null;
  expiration: string;
  credentials_expiration: string | null;
  duration_fallback: boolean;
  is_admin: boolean;
  csrf_token: string;
  region: string;
  endpoint_url: string | null;
}

/** The body of `POST /api/role`. */
export interface RoleRequest {
  role_arn: string;
}

/** The answer of `GET /api/credentials`: the `credential_process` shape plus `RoleArn` and `Region`. */
export interface CredentialsJson {
  Version: number;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
  RoleArn: string;
  Region: string;
}

/** The answer of `GET /api/app-config`. */
export interface AppConfig {
  region: string;
  sts_endpoint: string;
  api_endpoints: ApiEndpoint[];
}

/** One API endpoint the page offers a button for; `service` is its SigV4 signing name. */
export interface ApiEndpoint {
  name: string;
  url: string;
  region: string;
  method: string;
  service: string;
}

/** Every JSON error of the API; `login_url` only when a fresh sign-in is the way forward. */
export interface ApiErrorJson {
  error: string;
  message: string;
  request_id: string;
  login_url?: string;
}

/** The answer of `POST /logout` with `Accept: application/json`. */
export interface SignedOut {
  signed_out: boolean;
}
