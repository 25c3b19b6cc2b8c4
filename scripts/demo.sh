#!/usr/bin/env bash
# The demo: installs what is needed, builds, starts the development IdP and
# the broker on SQLite, and prints the URL to open. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SETUP_BROWSER=0 SETUP_POSTGRES=0 bash scripts/setup.sh

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

log "building saml-broker"
cargo build --quiet --bin saml-broker
BIN="$ROOT/target/debug/saml-broker"

mkdir -p demo/state
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_http() { # url, name
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "error: $2 did not come up at $1; see demo/state/*.log" >&2
  exit 1
}

# tests/moto_broker.py is moto with Cognito's CustomRoleArn and STS's RoleArn
# honoured, so GetCallerIdentity names the role you chose.
log "starting the local AWS emulator (moto) on http://127.0.0.1:5000"
.venv/bin/python tests/moto_broker.py -H 127.0.0.1 -p 5000 >demo/state/moto.log 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:5000/moto-api/ "moto"
POOL_ID=$(.venv/bin/python - <<'PY'
import boto3
c = boto3.client("cognito-identity", endpoint_url="http://127.0.0.1:5000", region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")
pool = c.create_identity_pool(IdentityPoolName="saml_broker_demo", AllowUnauthenticatedIdentities=False,
                              SamlProviderARNs=["arn:aws:iam::123456789012:saml-provider/DevIdP"])
print(pool["IdentityPoolId"])
PY
)
export BROKER_AWS__IDENTITY_POOL_ID="$POOL_ID"
log "identity pool $POOL_ID trusts arn:aws:iam::123456789012:saml-provider/DevIdP"

log "starting the development IdP on http://127.0.0.1:8081"
(cd demo && exec "$BIN" dev-idp --listen 127.0.0.1:8081 --users dev-idp-users.toml \
  --state-dir state --metadata-out state/dev-idp-metadata.xml \
  --sp-acs-url http://127.0.0.1:8080/saml/acs --sp-entity-id http://127.0.0.1:8080/saml/metadata) \
  >demo/state/dev-idp.log 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:8081/metadata "the dev IdP"

log "starting the broker on http://127.0.0.1:8080 (SQLite: demo/state/broker.db)"
"$BIN" serve --config demo/broker.toml >demo/state/broker.log 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:8080/readyz "the broker"

cat <<MSG

  saml-broker demo is running.

    Open:   http://127.0.0.1:8080/app/   (the web app; http://127.0.0.1:8080/ is the account page)
    Users:  alice / alice   (one role)
            bob   / bob     (three roles in three accounts)
            admin / admin   (member of AWS-Broker-Admins)

    AWS:    moto on http://127.0.0.1:5000, identity pool $POOL_ID (Cognito mode)
    Logs:   demo/state/broker.log, demo/state/dev-idp.log, demo/state/moto.log
    Stop:   Ctrl-C

MSG
wait -n "${pids[@]}"
echo "a demo process exited; see demo/state/*.log" >&2
