"""moto_server, with the two calls the broker makes behaving like AWS.

Stock moto 5 answers the broker's two exchanges in ways that contradict the
rest of the demo:

- Cognito GetCredentialsForIdentity ignores CustomRoleArn and always hands
  out the fixed key TESTACCESSKEY12345, so GetCallerIdentity with those
  credentials says arn:aws:sts::123456789012:user/moto whatever the role.
- STS AssumeRoleWithSAML takes the account from the assertion's first Role
  value (not from RoleArn), ignores DurationSeconds and Policy, and files the
  session under the default account, where GetCallerIdentity never finds it.

This wrapper patches both in moto's own backends, then runs moto's server:

- GetCredentialsForIdentity with CustomRoleArn assumes that role (in its own
  account) with the session name CognitoIdentityCredentials, as Cognito's
  enhanced flow does, for 90 seconds (moto's lifetime, which keeps the demo's
  renewals visible). GetCallerIdentity then answers
  arn:aws:sts::ACCOUNT:assumed-role/ROLE/CognitoIdentityCredentials.
- AssumeRoleWithSAML assumes RoleArn for DurationSeconds, with the session
  name from the assertion's RoleSessionName attribute (the NameID when there
  is none). GetCallerIdentity answers arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
- Both refuse, as AWS does, a role that is not in the assertion's Role
  attribute values (for STS, the exact role and provider pair).

Usage (same arguments as moto_server):

    .venv/bin/python tests/moto_broker.py -H 127.0.0.1 -p 5000
"""

import base64
import datetime
import json
import sys
import xml.etree.ElementTree as ET

from moto.cognitoidentity.responses import CognitoIdentityResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.server import main
from moto.sts.exceptions import STSClientError
from moto.sts.models import sts_backends
from moto.sts.responses import TokenResponse
from moto.utilities.utils import get_partition

SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
ATTR_ROLE = "https://aws.amazon.com/SAML/Attributes/Role"
ATTR_SESSION_NAME = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
DEFAULT_ACCOUNT = "123456789012"
# Cognito's enhanced flow names every session this way.
COGNITO_SESSION_NAME = "CognitoIdentityCredentials"
# moto's lifetime for Cognito credentials; short, so renewals show in the demo.
COGNITO_DURATION = 90


def account_of(role_arn):
    parts = (role_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else DEFAULT_ACCOUNT


def saml_facts(saml_b64):
    """(role pairs as frozensets, RoleSessionName or NameID) from a base64 SAMLResponse."""
    try:
        root = ET.fromstring(base64.b64decode(saml_b64))
    except Exception:  # not base64 or not XML: no facts
        return [], None
    pairs, session = [], None
    for attr in root.iter(f"{{{SAML_NS}}}Attribute"):
        values = [(v.text or "").strip() for v in attr.iter(f"{{{SAML_NS}}}AttributeValue")]
        if attr.get("Name") == ATTR_ROLE:
            pairs += [frozenset(p.strip() for p in v.split(",")) for v in values if "," in v]
        elif attr.get("Name") == ATTR_SESSION_NAME and values:
            session = values[0]
    if session is None:
        name_id = root.find(f".//{{{SAML_NS}}}NameID")
        session = (name_id.text or "").strip() if name_id is not None else None
    return pairs, session


def assume(region, role_arn, session_name, duration, policy=None):
    """Assume `role_arn` in its own account (moto files the key and the session there)."""
    backend = sts_backends[DEFAULT_ACCOUNT][get_partition(region)]
    return backend.assume_role(
        region_name=region,
        role_session_name=session_name,
        role_arn=role_arn,
        policy=policy,
        duration=duration,
        external_id=None,
    )


def assume_role_with_saml(self):
    role_arn = self._get_param("RoleArn")
    principal_arn = self._get_param("PrincipalArn")
    pairs, session = saml_facts(self._get_param("SAMLAssertion"))
    if frozenset([role_arn, principal_arn]) not in pairs:
        raise STSClientError(
            "AccessDenied",
            f"Not authorized to perform sts:AssumeRoleWithSAML: {role_arn} with {principal_arn} is not a Role value of the assertion",
        )
    role = assume(
        self.region,
        role_arn,
        (session or "saml-session")[:64],
        self._get_int_param("DurationSeconds", 3600),
        self._get_param("Policy"),
    )
    return ActionResult(
        {
            "Credentials": role,
            "AssumedRoleUser": {"AssumedRoleId": role.user_id, "Arn": role.arn},
            "PackedPolicySize": 6,
            "Subject": session,
            "SubjectType": "persistent",
            "Issuer": "moto_broker",
            "Audience": "https://signin.aws.amazon.com/saml",
            "NameQualifier": "moto_broker",
        }
    )


stock_get_credentials_for_identity = CognitoIdentityResponse.get_credentials_for_identity


def get_credentials_for_identity(self):
    role_arn = self._get_param("CustomRoleArn")
    if not role_arn:
        return stock_get_credentials_for_identity(self)
    logins = self._get_param("Logins") or {}
    # The provider may be the pool's (the Logins key) rather than the pair's.
    if not any(role_arn in pair for token in logins.values() for pair in saml_facts(token)[0]):
        raise JsonRESTError(
            "InvalidParameterException",
            f"CustomRoleArn {role_arn} is not a Role value of the SAML assertion",
        )
    role = assume(self.region, role_arn, COGNITO_SESSION_NAME, COGNITO_DURATION)
    return json.dumps(
        {
            "Credentials": {
                "AccessKeyId": role.access_key_id,
                "SecretKey": role.secret_access_key,
                "SessionToken": role.session_token,
                "Expiration": role.expiration.replace(tzinfo=datetime.timezone.utc).timestamp(),
            },
            "IdentityId": self._get_param("IdentityId"),
        }
    )


TokenResponse.assume_role_with_saml = assume_role_with_saml
CognitoIdentityResponse.get_credentials_for_identity = get_credentials_for_identity

if __name__ == "__main__":
    main(sys.argv[1:])
