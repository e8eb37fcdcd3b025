#!/usr/bin/env bash
# GDPR erasure latency on a large data dir, over HTTP.
#
# Usage: scripts/bench_erase.sh DATA_DIR WORKSPACE N [CONFIG]
#
#   Starts `contactdex serve` on a COPY of DATA_DIR (the original is left untouched; copying 1M contacts takes a
#   few seconds), waits for /health, picks N contact ids spread over the workspace (by exporting ids with the
#   CLI beforehand), then for each: DELETE /v1/workspaces/WS/contacts/ID?erase=true (answered once the data is
#   gone from the store and merged out of the index segments), timed with curl; then checks that GET answers 404
#   and that a search for the contact's name no longer returns its id. Prints each time, p50, max, and the
#   index size before/after. Needs curl and python3.
#
# Environment: CDX_BIN (default <repo>/target/release/contactdex), CDX_PORT (default 7793).
set -euo pipefail
if [ $# -lt 3 ]; then sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
SRC=$(readlink -f -- "$1"); WS=$2; N=$3; CONFIG=${4:-}
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CDX_BIN:-$REPO/target/release/contactdex}
PORT=${CDX_PORT:-7793}
WORK=$(mktemp -d /tmp/cdx-erase.XXXXXX)
CFG_ARGS=()
[ -n "$CONFIG" ] && CFG_ARGS=(--config "$CONFIG")

cp -a "$SRC" "$WORK/data"
"$BIN" export --data-dir "$WORK/data" "${CFG_ARGS[@]}" --workspace "$WS" --format ndjson 2>/dev/null |
    python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin]
step = max(1, len(rows) // $N)
for r in rows[::step][:$N]:
    print(r['id'] + '\t' + (r.get('name') or ''))
" > "$WORK/ids.tsv"
echo "picked $(wc -l < "$WORK/ids.tsv") ids of workspace $WS; index before: $(du -sb "$WORK/data/index" | cut -f1) bytes"

"$BIN" serve --data-dir "$WORK/data" --addr "127.0.0.1:$PORT" "${CFG_ARGS[@]}" > "$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do
    if curl -sf "http://127.0.0.1:$PORT/health" > /dev/null; then break; fi
    sleep 0.2
done

TIMES=()
while IFS=$'\t' read -r id name; do
    t=$(curl -s -o "$WORK/resp.json" -w '%{time_total}' -X DELETE \
        "http://127.0.0.1:$PORT/v1/workspaces/$WS/contacts/$id?erase=true" -H 'X-Actor: bench:erase')
    grep -q '"index_purged":true' "$WORK/resp.json" || { echo "erase of $id failed: $(cat "$WORK/resp.json")"; exit 1; }
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/workspaces/$WS/contacts/$id")
    [ "$code" = 404 ] || { echo "GET $id after erasure answered $code"; exit 1; }
    found=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/workspaces/$WS/search" -H 'content-type: application/json' \
        -d "$(python3 -c 'import json,sys; print(json.dumps({"q": sys.argv[1], "limit": 100}))' "$name")" |
        python3 -c "import json,sys; print(any(h['id']=='$id' for h in json.load(sys.stdin)['hits']))")
    [ "$found" = False ] || { echo "search still finds $id"; exit 1; }
    echo "erased $id in ${t}s"
    TIMES+=("$t")
done < "$WORK/ids.tsv"
printf '%s\n' "${TIMES[@]}" | python3 -c "
import sys
t = sorted(float(x) for x in sys.stdin)
print(f'erasures: {len(t)}  p50 {t[len(t)//2]*1000:.0f} ms  max {t[-1]*1000:.0f} ms')"
echo "index after: $(du -sb "$WORK/data/index" | cut -f1) bytes; server log lines about purges:"
grep -c "purged from the index" "$WORK/server.log" || true
grep "purged from the index" "$WORK/server.log" | tail -3 | sed 's/\x1b\[[0-9;]*m//g'
