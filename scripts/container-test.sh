#!/usr/bin/env bash
# Builds the broker's runtime image and runs it, on a machine that can pull
# no registry image: Debian's podman, a bookworm base made with debootstrap
# (cached in .cache/container/), and the broker binary built on this host.
# The image is the Dockerfile's own runtime stages (base + server), with
# RUNTIME_BASE and BINARY_FROM pointing at those local images.
#
# It then runs the image and checks that:
#   - /readyz answers 200;
#   - the broker process runs as uid 10001, not root;
#   - a sign-in works: the dev IdP (on the host) signs alice in, the broker
#     in the container verifies the response and gets credentials from moto.
#
# Skips (exit 0, with the reason) when podman is absent and cannot be
# installed, or cannot run a container here. docs/deploy-container.md
# describes what it needs. Environment:
#   SAML_BROKER_BIN   a binary to use instead of `cargo build` (debug) output
#   CONTAINER_TEST_STRICT=1  turn a skip into a failure (exit 1)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE="$ROOT/.cache/container"
BASE_IMAGE=localhost/saml-broker-base:bookworm
BIN_IMAGE=localhost/saml-broker-host-binary:test
IMAGE=localhost/saml-broker:container-test

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
skip() {
  echo "container-test: SKIPPED: $*" >&2
  if [ "${CONTAINER_TEST_STRICT:-0}" = 1 ]; then exit 1; fi
  exit 0
}
fail() { echo "container-test: FAILED: $*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi

# 1. podman and debootstrap, from Debian.
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || skip "${missing[*]} missing and no apt-get to install them"
  log "installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
    || skip "could not install ${missing[*]} (needs root or sudo, and the Debian mirror)"
fi
[ "$(id -u)" = 0 ] || skip "needs root: rootless podman and debootstrap are not set up by this script"

# Flags every podman run/build needs here:
#  - ulimits below the hard limits: podman asks for more open files and
#    processes than an unprivileged sandbox (no CAP_SYS_RESOURCE) may set;
#  - runc when crun refuses the machine's cgroups (v1 with a v2 "unified"
#    hierarchy: "cgroups in hybrid mode not supported").
PODMAN_FLAGS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
probe() { timeout 120 podman --runtime "$1" run --rm "${PODMAN_FLAGS[@]}" "$2" true 2>&1; }

# 2. The bookworm base, made once and cached as a tarball.
if ! podman image exists "$BASE_IMAGE"; then
  mkdir -p "$CACHE"
  if [ ! -s "$CACHE/bookworm-minbase.tar" ]; then
    log "debootstrap bookworm (minbase) into $CACHE (once)"
    rm -rf "$CACHE/rootfs"
    $SUDO debootstrap --variant=minbase bookworm "$CACHE/rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
      || skip "debootstrap failed (is deb.debian.org reachable?); see $CACHE/debootstrap.log"
    $SUDO tar -C "$CACHE/rootfs" -cf "$CACHE/bookworm-minbase.tar.tmp" .
    mv "$CACHE/bookworm-minbase.tar.tmp" "$CACHE/bookworm-minbase.tar"
    $SUDO rm -rf "$CACHE/rootfs"
  fi
  log "importing $BASE_IMAGE"
  podman import --change 'CMD ["/bin/bash"]' "$CACHE/bookworm-minbase.tar" "$BASE_IMAGE" >/dev/null
fi

RUNTIME=""
for rt in crun runc; do
  command -v "$rt" >/dev/null 2>&1 || continue
  if out=$(probe "$rt" "$BASE_IMAGE"); then RUNTIME=$rt; break; fi
  echo "podman with $rt cannot run a container here: ${out##*Error: }" >&2
done
if [ -z "$RUNTIME" ] && ! command -v runc >/dev/null 2>&1; then
  log "installing runc (crun cannot run containers on this machine)"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q runc >/dev/null 2>&1 || true
  if command -v runc >/dev/null 2>&1 && out=$(probe runc "$BASE_IMAGE"); then RUNTIME=runc; fi
fi
[ -n "$RUNTIME" ] || skip "podman cannot run a container on this machine (see the messages above and docs/deploy-container.md)"
PODMAN=(podman --runtime "$RUNTIME")

# 3. The binary, built on the host (same Debian release as the image).
if [ -n "${SAML_BROKER_BIN:-}" ]; then
  BIN=$SAML_BROKER_BIN
else
  log "building saml-broker (debug)"
  bash scripts/setup.sh >/dev/null
  cargo build --quiet --bin saml-broker
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/saml-broker"
fi
[ -x "$BIN" ] || fail "no binary at $BIN"
[ -x .venv/bin/moto_server ] || SETUP_BROWSER=0 SETUP_POSTGRES=0 bash scripts/setup.sh >/dev/null

WORK=$(mktemp -d)
pids=()
CTR=""
cleanup() {
  [ -n "$CTR" ] && "${PODMAN[@]}" rm -f "$CTR" >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log "building $IMAGE from the Dockerfile's runtime stages ($RUNTIME)"
mkdir -p "$WORK/bin"
if command -v strip >/dev/null 2>&1; then strip -o "$WORK/bin/saml-broker" "$BIN"; else cp "$BIN" "$WORK/bin/saml-broker"; fi
printf 'FROM scratch\nCOPY saml-broker /usr/local/bin/saml-broker\n' >"$WORK/bin/Containerfile"
"${PODMAN[@]}" build -q "${PODMAN_FLAGS[@]}" -t "$BIN_IMAGE" -f "$WORK/bin/Containerfile" "$WORK/bin" >/dev/null
"${PODMAN[@]}" build -q "${PODMAN_FLAGS[@]}" --format docker --target server \
  --build-arg RUNTIME_BASE="$BASE_IMAGE" --build-arg BINARY_FROM="$BIN_IMAGE" \
  -t "$IMAGE" -f Dockerfile . >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; fail "podman build"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url, name, log
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  [ -n "${3:-}" ] && cat "$3" >&2
  fail "$2 did not answer at $1"
}
BPORT=$(free_port); IPORT=$(free_port); MPORT=$(free_port)

log "moto on 127.0.0.1:$MPORT, the dev IdP on 127.0.0.1:$IPORT"
.venv/bin/moto_server -H 127.0.0.1 -p "$MPORT" >"$WORK/moto.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$MPORT/moto-api/" moto "$WORK/moto.log"
POOL_ID=$(MPORT=$MPORT .venv/bin/python - <<'PY'
import os, boto3
c = boto3.client("cognito-identity", endpoint_url=f"http://127.0.0.1:{os.environ['MPORT']}", region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")
print(c.create_identity_pool(IdentityPoolName="container_test", AllowUnauthenticatedIdentities=False,
      SamlProviderARNs=["arn:aws:iam::123456789012:saml-provider/DevIdP"])["IdentityPoolId"])
PY
)
mkdir -p "$WORK/idp" "$WORK/etc"
"$BIN" dev-idp --listen "127.0.0.1:$IPORT" --users demo/dev-idp-users.toml --state-dir "$WORK/idp" \
  --metadata-out "$WORK/etc/idp-metadata.xml" \
  --sp-acs-url "http://127.0.0.1:$BPORT/saml/acs" --sp-entity-id "http://127.0.0.1:$BPORT/saml/metadata" \
  >"$WORK/dev-idp.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$IPORT/metadata" "the dev IdP" "$WORK/dev-idp.log"

cat >"$WORK/etc/broker.toml" <<TOML
[server]
public_url = "http://127.0.0.1:$BPORT"
[idp]
metadata_file = "idp-metadata.xml"
[aws]
region = "us-east-1"
endpoint_url = "http://127.0.0.1:$MPORT"
mode = "cognito"
identity_pool_id = "$POOL_ID"
saml_provider_arn = "arn:aws:iam::123456789012:saml-provider/DevIdP"
[storage]
url = "sqlite:///var/lib/saml-broker/broker.db"
[audit]
archive_dir = "/var/lib/saml-broker/audit-archive"
[admin]
groups = ["AWS-Broker-Admins"]
TOML
chmod 0644 "$WORK/etc/"*

# Host networking: the container reaches moto and the dev IdP on loopback,
# and the browser side of the sign-in (this script) reaches the broker.
log "running $IMAGE on 127.0.0.1:$BPORT"
CTR=saml-broker-container-test-$$
# (podman schedules HEALTHCHECK with systemd timers, absent here: its probe is run by hand below.)
"${PODMAN[@]}" run -d --name "$CTR" "${PODMAN_FLAGS[@]}" --network host --no-healthcheck \
  -v "$WORK/etc:/etc/saml-broker:ro" \
  -e BROKER_SERVER__LISTEN="127.0.0.1:$BPORT" \
  -e BROKER_SESSION__KEY="$(head -c 32 /dev/urandom | base64)" \
  -e AWS_ACCESS_KEY_ID=test -e AWS_SECRET_ACCESS_KEY=test \
  "$IMAGE" >/dev/null
logs() { "${PODMAN[@]}" logs "$CTR" >&2 || true; }
for _ in $(seq 1 150); do
  curl -fsS -o /dev/null "http://127.0.0.1:$BPORT/readyz" 2>/dev/null && break
  [ "$("${PODMAN[@]}" inspect -f '{{.State.Running}}' "$CTR")" = true ] || { logs; fail "the container exited"; }
  sleep 0.2
done
ready=$(curl -sS "http://127.0.0.1:$BPORT/readyz") || { logs; fail "/readyz did not answer"; }
[ "$ready" = ready ] || { logs; fail "/readyz answered: $ready"; }
echo "ok: /readyz answers \"ready\""

pid=$("${PODMAN[@]}" inspect -f '{{.State.Pid}}' "$CTR")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" = 10001 ] || fail "the broker runs as uid $uid, not 10001"
echo "ok: the broker process (pid $pid on the host) runs as uid $uid"

# The image's HEALTHCHECK probes port 8080; this run listens elsewhere (host
# networking), so run the same probe on that port.
"${PODMAN[@]}" exec "$CTR" curl -fsS -o /dev/null "http://127.0.0.1:$BPORT/healthz" \
  || { logs; fail "the health check probe (curl /healthz inside the container) fails"; }
echo "ok: curl /healthz inside the container (the HEALTHCHECK's probe) passes"

BROKER="http://127.0.0.1:$BPORT" python3 - <<'PY' || { logs; fail "sign-in"; }
import html, json, os, re, urllib.parse, urllib.request, http.cookiejar
broker = os.environ["BROKER"]
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
jar = http.cookiejar.CookieJar()
web = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(jar))
def call(url, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        r = web.open(urllib.request.Request(url, data=data), timeout=30)
    except urllib.error.HTTPError as e:
        r = e
    return r.status, r.headers, r.read().decode()
def field(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % name, page)
    assert m, f"no {name} in {page[:500]}"
    return html.unescape(m.group(1))
status, headers, _ = call(f"{broker}/saml/login?return_to=/")
assert status == 302, status
to_idp = headers["Location"]
_, _, form = call(to_idp)
idp = to_idp.split("/sso")[0]
_, _, posted = call(f"{idp}/sso", {"username": "alice", "password": "alice",
                    "request_id": field(form, "request_id"), "relay_state": field(form, "relay_state")})
status, headers, body = call(f"{broker}/saml/acs", {"SAMLResponse": field(posted, "SAMLResponse"),
                                                    "RelayState": field(posted, "RelayState")})
assert status == 303, (status, body[:800])
status, _, body = call(f"{broker}/api/session")
assert status == 200, (status, body)
s = json.loads(body)
assert s["subject"] == "alice@example.com", s
assert s["role_arn"] == "arn:aws:iam::123456789012:role/BrokerDeveloper", s
assert s["credentials_expiration"], s
print(f"ok: alice signed in through the dev IdP; role {s['role_arn']}, credentials until {s['credentials_expiration']}")
PY
log "container test passed"
