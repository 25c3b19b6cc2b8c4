#!/usr/bin/env bash
# Installs what saml-broker needs to build, run the demo and run the tests on
# Debian/Ubuntu. Idempotent: it skips what is already there. Sourced or run by
# demo.sh and test.sh; safe to run on its own.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# 1. Debian packages: a C compiler (ring, SQLite), xmlsec1 only as the tests'
#    signature oracle, python venv for moto and lxml, node for the test IdP.
#    The build needs no library headers (no OpenSSL, libxml2 or libxmlsec1).
APT_PACKAGES=(build-essential xmlsec1 python3-venv curl ca-certificates)
# Debian's Chromium for the browser tests (playwright-core drives it; nothing is downloaded by npm).
if [ "${SETUP_BROWSER:-1}" = 1 ]; then APT_PACKAGES+=(chromium); fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# 2. Rust.
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    log "installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# 3. PostgreSQL on 127.0.0.1:5432 for the multi-instance tests. Machines that
#    already run one (trust auth, database `test`) are left alone; otherwise
#    Debian's server is installed and started, with the password `postgres`
#    for the `postgres` user and a `test` database.
if [ "${SETUP_POSTGRES:-1}" = 1 ] && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  log "installing and starting PostgreSQL for the tests"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && break; sleep 0.2; done
  $SUDO -u postgres psql -q -c "ALTER USER postgres PASSWORD 'postgres'" 2>/dev/null \
    || su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\""
  $SUDO -u postgres createdb test 2>/dev/null || su postgres -c "createdb test" 2>/dev/null || true
fi

# 4. A Python venv with moto (the local AWS emulator: STS, Cognito identity, DynamoDB).
if ! cmp -s tests/requirements.txt .venv/requirements.stamp 2>/dev/null; then
  log "installing moto[server] into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
  cp tests/requirements.txt .venv/requirements.stamp
fi

# 5. Node packages, from the lockfiles: the third-party test IdP (Auth0 samlp)
#    and playwright-core for the browser tests.
for dir in frontend tests/idps/samlp tests/browser; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    log "installing node packages in $dir (npm ci)"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    touch "$dir/node_modules"
  fi
done

# 6. The browser app (TypeScript -> frontend/dist, embedded into the broker at build time).
if [ ! -f frontend/dist/app.js ] || [ -n "$(find frontend/src frontend/scripts frontend/package-lock.json -newer frontend/dist/app.js 2>/dev/null | head -1)" ]; then
  log "building the browser app (frontend/)"
  npm run --prefix frontend --silent build
fi
