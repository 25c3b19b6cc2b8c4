#!/usr/bin/env bash
# The whole test suite: installs what is needed, then formatting, lints and
# every test (unit, integration over HTTP, third-party IdP interop).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

log "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
log "frontend unit tests (node --test)"
npm test --prefix frontend --silent
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --quiet --workspace --all-targets -- -D warnings
log "cargo check --no-default-features (a broker without the dev IdP)"
cargo check --quiet -p saml-broker --no-default-features --lib --bins
log "cargo test"
cargo test --workspace --quiet
# The container image (build and run with podman): only when asked, since it
# needs root and the Debian mirror and takes a minute or more
# (docs/deploy-container.md#testing-the-image-without-a-registry).
if [ "${CONTAINER_TEST:-0}" = 1 ]; then
  log "container image (scripts/container-test.sh)"
  CONTAINER_TEST_STRICT=1 bash scripts/container-test.sh
fi
log "all tests passed"
