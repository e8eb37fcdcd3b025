#!/usr/bin/env bash
# Disk full on a real file system (a small tmpfs), not a simulated reserve (issue 6).
#
# Usage: sudo scripts/disk_full.sh NDJSON [SIZE_MB=96] [RESERVE_MB=16]
#
# Mounts a tmpfs of SIZE_MB, starts `contactdex serve` with its data dir there and
# `min_free_bytes` = RESERVE_MB, then sends bulk requests of 200 contacts from NDJSON until the
# server refuses one. Checks: the refusal is 507 and comes before the file system is full (free
# space printed); 20 more bulks and a PUT are refused too; GET and search still answer. Then
# SIGTERM, the tmpfs is grown to 4 × SIZE_MB ("space returns"), the server restarts, and every
# acknowledged contact must be there (search total = acknowledged count, GET of a sample) and
# no refused one. Prints one JSON line. Needs root (mount) and python3.
set -euo pipefail
if [ $# -lt 1 ]; then sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
FILE=$1; SIZE=${2:-96}; RESERVE=${3:-16}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/contactdex
PORT=${PORT:-7712}
MNT=$(mktemp -d); CFG=$(mktemp --suffix .toml); WORK=$(mktemp -d)
mount -t tmpfs -o size=${SIZE}m tmpfs "$MNT"
PID=
cleanup() { [ -z "$PID" ] || kill -TERM "$PID" 2>/dev/null || true; sleep 1; umount "$MNT" 2>/dev/null || true; }
trap cleanup EXIT
sed -e "s/^min_free_bytes = .*/min_free_bytes = $((RESERVE * 1024 * 1024))/" \
    -e "s/^writer_memory_mb = .*/writer_memory_mb = 32/" \
    -e "s/^writer_threads = .*/writer_threads = 1/" "$ROOT/index-config/default.toml" > "$CFG"
start() {
  "$BIN" serve --data-dir "$MNT/data" --addr "127.0.0.1:$PORT" --config "$CFG" >> "$WORK/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && return; sleep 0.5; done
  echo "server did not become healthy" >&2; exit 1
}
start
python3 - "$FILE" "http://127.0.0.1:$PORT" "$MNT" "$WORK" <<'PY'
import json, os, sys, urllib.request, urllib.error
src, base, mnt, work = sys.argv[1:5]
ws = f"{base}/v1/workspaces/df"
def call(method, url, body=None, ctype="application/json"):
    req = urllib.request.Request(url, data=body, method=method, headers={"content-type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
acked, refused, first = [], [], None
with open(src, encoding="utf-8") as f:
    batch, n = [], 0
    for line in f:
        d = json.loads(line); n += 1
        d["id"] = f"df-{n}"
        batch.append(d)
        if len(batch) < 200:
            continue
        body = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in batch).encode()
        code, v = call("POST", f"{ws}/contacts/bulk", body, "application/x-ndjson")
        ids = [x["id"] for x in batch]; batch = []
        if code < 300:
            bad = {r.get("id") for r in v["rejected"]}
            acked += [i for i in ids if i not in bad]
            if first is None:
                continue
        else:
            refused += ids
            if first is None:
                st = os.statvfs(mnt)
                first = {"code": code, "error": v.get("error") if isinstance(v, dict) else v,
                         "free_mb_at_refusal": round(st.f_bavail * st.f_frsize / 2**20, 1), "acked_before": len(acked)}
        if first is not None and len(refused) >= 21 * 200:
            break
after = [call("PUT", f"{ws}/contacts/df-extra", json.dumps({"name": "Late Writer"}).encode())[0]]
reads = [call("GET", f"{ws}/contacts/{acked[0]}")[0], call("POST", f"{ws}/search", json.dumps({"q": "a"}).encode())[0]]
json.dump({"acked": acked, "refused": refused, "first_refusal": first, "put_after": after, "reads_while_full": reads,
           "bulks_refused": len(refused) // 200}, open(f"{work}/phase1.json", "w"))
PY
kill -TERM "$PID"; wait "$PID" || true; PID=
mount -o remount,size=$((SIZE * 4))m "$MNT"
start
python3 - "http://127.0.0.1:$PORT" "$WORK" <<'PY'
import json, random, sys, urllib.request, urllib.error
base, work = sys.argv[1:3]
p = json.load(open(f"{work}/phase1.json"))
ws = f"{base}/v1/workspaces/df"
def call(method, url, body=None):
    req = urllib.request.Request(url, data=body, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
_, v = call("POST", f"{ws}/search", json.dumps({"limit": 1}).encode())
rng = random.Random(7)
sample = rng.sample(p["acked"], min(500, len(p["acked"])))
missing = [i for i in sample if call("GET", f"{ws}/contacts/{i}")[0] != 200]
present_refused = [i for i in rng.sample(p["refused"], min(200, len(p["refused"]))) if call("GET", f"{ws}/contacts/{i}")[0] != 404]
out = {"first_refusal": p["first_refusal"], "bulks_refused_after_first": p["bulks_refused"] - 1,
       "put_while_full": p["put_after"], "get_and_search_while_full": p["reads_while_full"],
       "acknowledged": len(p["acked"]), "total_after_restart": v.get("total"),
       "acked_sample_missing": len(missing), "refused_sample_present": len(present_refused)}
ok = (p["first_refusal"] and p["first_refusal"]["code"] == 507 and all(c == 507 for c in p["put_after"])
      and p["reads_while_full"] == [200, 200] and v.get("total") == len(p["acked"]) and not missing and not present_refused)
out["pass"] = bool(ok)
print(json.dumps(out))
sys.exit(0 if ok else 1)
PY
