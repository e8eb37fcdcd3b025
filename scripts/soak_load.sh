#!/usr/bin/env bash
# Sustained mixed load against the real server, with its RSS sampled (issue 6).
#
# Usage: scripts/soak_load.sh DATA_DIR QUERIES_FILE MINUTES [CONFIG]
#
# Starts `contactdex serve` on DATA_DIR (use a copy: the load writes into it), waits for
# /health, then runs examples/mixedload for MINUTES with 2 searchers, 2 single writers (50 ms
# pause), 1 bulker (100 lines every 200 ms), every writer cycling over MIX_IDS ids (default
# 20000) so the data set's size stays steady, and the server's VmRSS sampled every 10 s. Stops the
# server with SIGTERM and prints mixedload's JSON line (growth_after_warmup_pct compares the
# last RSS sample with the one at 1/6 of the run). Environment: PORT (7711), SEARCHERS (2),
# WRITERS (2), BULKERS (1), MIX_IDS (20000), WORKSPACE (bench), SKIP_BUILD=1 to use existing binaries.
set -euo pipefail
if [ $# -lt 3 ]; then sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
DATA=$1; QUERIES=$2; MIN=$3; CONFIG=${4:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-7711}
[ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build --release --bin contactdex --example mixedload)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
ARGS=(serve --data-dir "$DATA" --addr "127.0.0.1:$PORT")
[ -z "$CONFIG" ] || ARGS+=(--config "$CONFIG")
"$BIN/contactdex" "${ARGS[@]}" > "${LOG:-/tmp/soak-serve.log}" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break; sleep 1; done
MIX_IDS=${MIX_IDS:-20000} RSS_PID=$PID "$BIN/examples/mixedload" "http://127.0.0.1:$PORT" "${WORKSPACE:-bench}" "$QUERIES" \
  $((MIN * 60)) "${SEARCHERS:-2}" "${WRITERS:-2}" "${BULKERS:-1}" 100 50
kill -TERM $PID
wait $PID && echo "server exited 0 after SIGTERM" >&2
