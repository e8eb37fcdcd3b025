#!/usr/bin/env bash
# Bulk-ingest throughput of the contactdex HTTP service over loopback.
#
# Usage: scripts/bench_http_bulk.sh FILE [CHUNK_LINES=10000]
#
#   Starts `target/release/contactdex serve --data-dir /tmp/cdx-http-data --addr 127.0.0.1:7791` on a fresh data
#   dir, waits until GET /health answers 200, splits FILE into chunks of CHUNK_LINES lines and POSTs each, in
#   order, to http://127.0.0.1:7791/v1/workspaces/bench/contacts/bulk (Content-Type: application/x-ndjson,
#   curl --data-binary @chunk); the last one with ?refresh=true, so the clock stops when everything is
#   searchable. Reports wall time (POSTs only; splitting is done before), the sum of "accepted" (and of
#   rejected lines), contacts/s, the server's peak RSS (VmHWM from /proc/PID/status, read before stopping it),
#   then stops the server with SIGTERM, waits for it and reports how long the shutdown took and the data size.
#
# Environment (all optional):
#   CDX_BIN=path        product binary (default ${CARGO_TARGET_DIR:-<repo>/target}/release/contactdex; not built here)
#   CDX_HTTP_PORT=n     loopback port (default 7791; the address is always 127.0.0.1)
#   CDX_HTTP_DATA=dir   data dir (default /tmp/cdx-http-data; wiped first)
#   CDX_SERVE_ARGS=".." extra arguments for `contactdex serve` (e.g. "--config my.toml")
#   HEALTH_TIMEOUT=s    how long to wait for /health (default 60)
set -euo pipefail

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case "$1" in -h|--help) usage ;; esac

FILE=$(readlink -f -- "$1")
CHUNK=${2:-10000}
[ -f "$FILE" ] || { echo "error: no such file: $1" >&2; exit 2; }
[[ "$CHUNK" =~ ^[1-9][0-9]*$ ]] || { echo "error: CHUNK_LINES must be a positive integer, got '$CHUNK'" >&2; exit 2; }
command -v curl >/dev/null || { echo "error: curl is needed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "error: python3 is needed (arithmetic)" >&2; exit 1; }

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CDX_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/contactdex}
PORT=${CDX_HTTP_PORT:-7791}
ADDR="127.0.0.1:$PORT"   # loopback only
BASE="http://$ADDR"
DATA=${CDX_HTTP_DATA:-/tmp/cdx-http-data}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}
read -r -a EXTRA_ARGS <<< "${CDX_SERVE_ARGS:-}"
[ -x "$BIN" ] || { echo "error: contactdex binary missing: $BIN (run cargo build --release)" >&2; exit 1; }

if curl -s -o /dev/null --max-time 2 "$BASE/health"; then
    echo "error: something already answers on $ADDR; stop it first" >&2
    exit 1
fi

WORK=$(mktemp -d /tmp/cdx-http-bulk.XXXXXX)
LOG="$WORK/server.log"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf -- "$WORK/chunks"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }

# split first, so the clock only covers the HTTP work
mkdir -p "$WORK/chunks"
split -l "$CHUNK" -d -a 6 -- "$FILE" "$WORK/chunks/c."
CHUNKS=("$WORK"/chunks/c.*)   # glob expansion is sorted: c.000000, c.000001, ...
LINES=$(wc -l < "$FILE")

rm -rf -- "$DATA"
"$BIN" serve --data-dir "$DATA" --addr "$ADDR" "${EXTRA_ARGS[@]}" > "$LOG" 2>&1 &
SERVER_PID=$!
echo "bench_http_bulk: $(date -u +%Y-%m-%dT%H:%M:%SZ)  file $FILE ($LINES lines, ${#CHUNKS[@]} chunks of <= $CHUNK)"
echo "  server pid $SERVER_PID on $ADDR, data $DATA, log $LOG; host $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

t_start=$(now)
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/health" || true)" = 200 ]; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "error: the server exited during start-up; its log:" >&2
        tail -n 30 "$LOG" >&2
        SERVER_PID=""
        exit 1
    fi
    if [ "$(calc "int($(now) - $t_start > $HEALTH_TIMEOUT)")" = 1 ]; then
        echo "error: /health did not answer 200 within ${HEALTH_TIMEOUT}s; log: $LOG" >&2
        exit 1
    fi
    sleep 0.1
done
echo "  healthy after $(calc "round($(now) - $t_start, 2)") s"

URL="$BASE/v1/workspaces/bench/contacts/bulk"
accepted=0
rejected=0
n=${#CHUNKS[@]}
t0=$(now)
for i in "${!CHUNKS[@]}"; do
    url=$URL
    [ "$i" -eq $((n - 1)) ] && url="$URL?refresh=true"
    resp=$(curl -sS --max-time 900 -X POST -H 'Content-Type: application/x-ndjson' \
        --data-binary "@${CHUNKS[$i]}" -w '\n%{http_code}' "$url") || {
        echo "error: curl failed on chunk $((i + 1))/$n" >&2; exit 1; }
    code=${resp##*$'\n'}
    body=${resp%$'\n'*}
    if [[ "$code" != 2* ]]; then
        echo "error: chunk $((i + 1))/$n answered HTTP $code: ${body:0:500}" >&2
        exit 1
    fi
    acc=$(printf '%s' "$body" | sed -n 's/.*"accepted"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
    [ -n "$acc" ] || { echo "error: no \"accepted\" in the answer to chunk $((i + 1)): ${body:0:500}" >&2; exit 1; }
    rej=$(printf '%s' "$body" | grep -o '"line"[[:space:]]*:' | wc -l || true)
    accepted=$((accepted + acc))
    rejected=$((rejected + rej))
done
t1=$(now)
wall=$(calc "round($t1 - $t0, 3)")

hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status" 2>/dev/null || true)
rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status" 2>/dev/null || true)

ts=$(now)
kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=""
stop_s=$(calc "round($(now) - $ts, 2)")
disk=$(du -sb -- "$DATA" 2>/dev/null | cut -f1 || echo 0)

echo
printf '%-26s %s\n' "chunks posted" "$n (last with ?refresh=true)" \
    "lines sent" "$LINES" \
    "accepted" "$accepted" \
    "rejected lines" "$rejected" \
    "wall (POSTs) s" "$wall" \
    "contacts/s" "$(calc "round($accepted / $wall) if $wall > 0 else 0")" \
    "server peak RSS (VmHWM) MB" "$(calc "round(${hwm:-0} / 1024, 1)")" \
    "server RSS at end MB" "$(calc "round(${rss:-0} / 1024, 1)")" \
    "shutdown (SIGTERM) s" "$stop_s, exit status $status" \
    "data dir MB" "$(calc "round(${disk:-0} / 1048576, 1)")"
[ "$status" -eq 0 ] || { echo "warning: the server exited with status $status after SIGTERM; log: $LOG" >&2; }
