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
log "cargo test"
cargo test --workspace --quiet
log "all tests passed"
