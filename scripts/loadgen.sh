#!/usr/bin/env bash
# The login-storm measurement (docs/performance.md, "Login storm: load
# generator"): builds the release binaries, sets up a broker in a temporary
# directory, starts it pinned to one core, storms POST /saml/acs from the
# other, checks the audit trail, stops the broker and prints the openssl
# RSA-2048 figure of the broker's core for scale.
#
# Parameters (environment):
#   LOGINS=20000        logins minted before the clock starts (with DURATION: the pool)
#   CONCURRENCY=32      keep-alive connections
#   STORAGE=sqlite      sqlite (a file in the temporary directory), or
#                       postgres://USER@HOST[:PORT]/DB: a fresh database lg_… is
#                       created through DB (trust auth) and dropped afterwards,
#                       or sqlite:///PATH (e.g. on tmpfs, to take the disk out)
#   RATE=               open loop at this many logins/s (default: closed loop)
#   DURATION=           run this many seconds (a soak)
#   SESSION_READS=      GET /api/session per second alongside the logins
#   PORT=18080          where the broker listens
#   BROKER_CORE=0 LOADGEN_CORE=1
#   KEEP=1              keep the temporary directory (and the database); they
#                       are kept anyway when the check fails
set -euo pipefail
cd "$(dirname "$0")/.."

LOGINS=${LOGINS:-20000}
CONCURRENCY=${CONCURRENCY:-32}
STORAGE=${STORAGE:-sqlite}
RATE=${RATE:-}
DURATION=${DURATION:-}
SESSION_READS=${SESSION_READS:-}
PORT=${PORT:-18080}
BROKER_CORE=${BROKER_CORE:-0}
LOADGEN_CORE=${LOADGEN_CORE:-1}
KEEP=${KEEP:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
BIN=$CARGO_TARGET_DIR/release

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

log "building release binaries (saml-broker, loadgen) into $CARGO_TARGET_DIR"
nice -n 10 cargo build --quiet --release -p saml-broker -p loadgen

DIR=$(mktemp -d "${TMPDIR:-/tmp}/loadgen.XXXXXX")
DB=
ADMIN_URL=
BROKER_PID=
cleanup() {
  if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  if [ "$KEEP" = 1 ]; then
    log "kept $DIR${DB:+ and database $DB}"
    return
  fi
  if [ -n "$DB" ]; then
    psql -q "$ADMIN_URL" -c "drop database if exists $DB" >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT

case "$STORAGE" in
  sqlite) STORAGE_URL="sqlite://broker.db" ;;
  sqlite://*) STORAGE_URL=$STORAGE ;;
  postgres://* | postgresql://*)
    ADMIN_URL=$STORAGE
    DB="lg_$(date +%s)_$$"
    # postgres://USER@HOST[:PORT]/DB -> the same server, the fresh database.
    SERVER=${STORAGE%/*}
    [ "$SERVER" = "${STORAGE%%://*}:/" ] && SERVER=$STORAGE
    log "creating database $DB through $ADMIN_URL"
    psql -q "$ADMIN_URL" -c "create database $DB" >/dev/null
    STORAGE_URL="$SERVER/$DB"
    ;;
  *) echo "STORAGE must be sqlite, sqlite:///PATH or postgres://USER@HOST/DB, not $STORAGE" >&2; exit 2 ;;
esac

log "loadgen setup into $DIR (storage $STORAGE_URL)"
"$BIN/loadgen" setup --dir "$DIR" --storage-url "$STORAGE_URL" --listen "127.0.0.1:$PORT" >/dev/null

log "starting the broker on core $BROKER_CORE"
taskset -c "$BROKER_CORE" "$BIN/saml-broker" serve --config "$DIR/broker.toml" >"$DIR/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    echo "the broker exited; its log:" >&2; cat "$DIR/broker.log" >&2; exit 1
  fi
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null

ARGS=(--dir "$DIR" --url "http://127.0.0.1:$PORT" --logins "$LOGINS"
      --concurrency "$CONCURRENCY" --broker-pid "$BROKER_PID" --pin-core "$LOADGEN_CORE")
[ -n "$RATE" ] && ARGS+=(--rate "$RATE")
[ -n "$DURATION" ] && ARGS+=(--duration "$DURATION")
[ -n "$SESSION_READS" ] && ARGS+=(--session-reads-per-sec "$SESSION_READS")

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# For scale, like the openssl figure below: what one synchronous 4 KiB write
# (what a SQLite commit waits for) costs on the temporary directory's disk now.
sync_probe() {
  local ms
  ms=$(dd if=/dev/zero of="$DIR/dsync-probe" bs=4k count=200 oflag=dsync 2>&1 |
    awk '/copied/ { printf "%.2f", $(NF-3) * 1000 / 200 }')
  rm -f "$DIR/dsync-probe"
  log "synchronous 4 KiB write on $DIR's disk, $1: $ms ms"
}
sync_probe before
# Minting uses every core (the broker is idle); then loadgen pins itself to LOADGEN_CORE.
"$BIN/loadgen" run "${ARGS[@]}" | tee "$DIR/run.jsonl"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
sync_probe after

log "loadgen check"
CHECK=0
"$BIN/loadgen" check --dir "$DIR" --broker-bin "$BIN/saml-broker" || CHECK=$?

log "stopping the broker"
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=

log "openssl speed rsa2048 on core $BROKER_CORE (for scale)"
VERIFY=$(taskset -c "$BROKER_CORE" openssl speed -seconds 3 rsa2048 2>/dev/null |
  awk '$1 == "rsa" && $2 == "2048" { print $NF }')
echo "openssl rsa2048 verify/s on core $BROKER_CORE: $VERIFY"

if [ "$CHECK" != 0 ]; then
  # Keep the evidence: the broker's log, its database, the run's figures.
  KEEP=1
  log "loadgen check FAILED; the broker's log is $DIR/broker.log"
  exit "$CHECK"
fi
