#!/usr/bin/env bash
# Compare `contactdex import` with the reference floor (../shared/perf-floor) on one NDJSON file.
#
# Usage: scripts/bench_ingest.sh FILE [RUNS=3]
#
#   Builds the floor if its binary is missing:
#     CARGO_TARGET_DIR=<repo>/../floor-target cargo build --release --manifest-path <repo>/../shared/perf-floor/Cargo.toml
#   and the product with `cargo build --release` (a no-op when up to date). Then RUNS times, alternately:
#     floor:   $FLOOR pipeline FILE /tmp/cdx-floor-out          (prints one JSON line of figures)
#     product: /usr/bin/time -v target/release/contactdex import --data-dir /tmp/cdx-bench-data --workspace bench FILE
#              (data dir wiped before each run; last stdout line starting with '{' is its summary; peak RSS from
#              /usr/bin/time's "Maximum resident set size"; disk from `du -sb` of the data dir)
#   and prints a table (run, floor docs/s, product docs/s, ratio, product peak RSS MB, product disk MB, plus the
#   floor's RSS/disk and the product's rejected count for reference) and the median ratio product/floor.
#   The product's docs/s is imported / the process's whole elapsed time (GNU time), start-up and shutdown
#   included; its own summary's docs_per_s (which stops once everything is durable and searchable) is
#   shown as "summary docs/s". The floor's is its own figure (it times its whole pipeline).
#
# Environment (all optional):
#   SKIP_BUILD=1          do not run cargo at all (binaries must exist)
#   FLOOR_BIN=path        floor binary (default <repo>/../floor-target/release/floor)
#   FLOOR_TARGET_DIR=dir  where the floor is built (default <repo>/../floor-target)
#   CDX_BIN=path          product binary (default ${CARGO_TARGET_DIR:-<repo>/target}/release/contactdex)
#   CDX_BENCH_DATA=dir    product data dir (default /tmp/cdx-bench-data)
#   FLOOR_OUT=dir         floor output dir (default /tmp/cdx-floor-out)
#   CDX_IMPORT_ARGS="..." extra arguments for `contactdex import` (e.g. "--config my.toml")
#   LOG_DIR=dir           where per-run logs go (default: a fresh mktemp dir, printed at the end)
#
# Needs GNU time at /usr/bin/time (apt-get install time) and python3 (JSON parsing, arithmetic).
set -euo pipefail

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case "$1" in -h|--help) usage ;; esac

FILE=$(readlink -f -- "$1")
RUNS=${2:-3}
[ -f "$FILE" ] || { echo "error: no such file: $1" >&2; exit 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "error: RUNS must be a positive integer, got '$RUNS'" >&2; exit 2; }

if [ ! -x /usr/bin/time ]; then
    echo "error: /usr/bin/time (GNU time) is missing: install it with 'apt-get install time'" >&2
    exit 1
fi
command -v python3 >/dev/null || { echo "error: python3 is needed to parse the JSON summaries" >&2; exit 1; }

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
FLOOR_MANIFEST="$ROOT/../shared/perf-floor/Cargo.toml"
FLOOR_TARGET_DIR=${FLOOR_TARGET_DIR:-$ROOT/../floor-target}
FLOOR=${FLOOR_BIN:-$FLOOR_TARGET_DIR/release/floor}
PRODUCT=${CDX_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/contactdex}
DATA=${CDX_BENCH_DATA:-/tmp/cdx-bench-data}
FLOOR_OUT=${FLOOR_OUT:-/tmp/cdx-floor-out}
LOG_DIR=${LOG_DIR:-$(mktemp -d /tmp/cdx-bench-ingest.XXXXXX)}
mkdir -p "$LOG_DIR"
read -r -a EXTRA_ARGS <<< "${CDX_IMPORT_ARGS:-}"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    if [ ! -x "$FLOOR" ]; then
        [ -f "$FLOOR_MANIFEST" ] || { echo "error: floor manifest not found: $FLOOR_MANIFEST" >&2; exit 1; }
        echo "building the floor into $FLOOR_TARGET_DIR (several minutes on 2 cores) ..." >&2
        CARGO_TARGET_DIR="$FLOOR_TARGET_DIR" cargo build --release --manifest-path "$FLOOR_MANIFEST" >&2
    fi
    echo "building contactdex (cargo build --release) ..." >&2
    (cd "$ROOT" && cargo build --release >&2)
fi
[ -x "$FLOOR" ] || { echo "error: floor binary missing: $FLOOR" >&2; exit 1; }
[ -x "$PRODUCT" ] || { echo "error: contactdex binary missing: $PRODUCT (cargo build --release)" >&2; exit 1; }

# jfield JSON KEY -> value (empty when absent)
jfield() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
# calc EXPR -> python arithmetic, printed
calc() { python3 -c "print($1)"; }

LINES=$(wc -l < "$FILE")
echo "bench_ingest: $(date -u +%Y-%m-%dT%H:%M:%SZ)  file $FILE ($LINES lines, $(du -h "$FILE" | cut -f1))"
echo "  host $(hostname), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); contactdex $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "  floor $FLOOR"
echo "  product $PRODUCT import --data-dir $DATA --workspace bench ${EXTRA_ARGS[*]:-}"
echo "  logs $LOG_DIR"
cat -- "$FILE" > /dev/null  # warm the page cache so run 1 of the floor does not pay the cold read alone

fmt='%-4s %14s %14s %8s %16s %14s %15s %12s %14s %9s\n'
# shellcheck disable=SC2059  # one shared column format for header and rows
printf "$fmt" run "floor docs/s" "product docs/s" ratio "summary docs/s" "prod RSS MB" "prod disk MB" "floor RSS MB" "floor disk MB" rejected
RATIOS=()
for run in $(seq 1 "$RUNS"); do
    # --- floor
    if ! "$FLOOR" pipeline "$FILE" "$FLOOR_OUT" > "$LOG_DIR/floor.$run.out" 2> "$LOG_DIR/floor.$run.err"; then
        echo "error: floor run $run failed; tail of $LOG_DIR/floor.$run.err:" >&2
        tail -n 20 "$LOG_DIR/floor.$run.err" >&2
        exit 1
    fi
    fj=$(grep '^{' "$LOG_DIR/floor.$run.out" | tail -n 1 || true)
    [ -n "$fj" ] || { echo "error: floor printed no JSON line (see $LOG_DIR/floor.$run.out)" >&2; exit 1; }
    f_dps=$(jfield "$fj" docs_per_s)
    f_rss=$(jfield "$fj" vmhwm_mb)
    f_disk=$(jfield "$fj" disk_bytes)

    # --- product
    rm -rf -- "$DATA"
    if ! /usr/bin/time -v -o "$LOG_DIR/product.$run.time" \
        "$PRODUCT" import --data-dir "$DATA" --workspace bench "${EXTRA_ARGS[@]}" "$FILE" \
        > "$LOG_DIR/product.$run.out" 2> "$LOG_DIR/product.$run.err"; then
        echo "error: contactdex import run $run failed; tail of $LOG_DIR/product.$run.err:" >&2
        tail -n 20 "$LOG_DIR/product.$run.err" >&2
        exit 1
    fi
    pj=$(grep '^{' "$LOG_DIR/product.$run.out" | tail -n 1 || true)
    [ -n "$pj" ] || { echo "error: contactdex printed no JSON summary (see $LOG_DIR/product.$run.out)" >&2; exit 1; }
    p_sum=$(jfield "$pj" docs_per_s)
    p_imp=$(jfield "$pj" imported)
    p_rej=$(jfield "$pj" rejected)
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:52.40"
    p_el=$(sed -n 's/^.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$LOG_DIR/product.$run.time")
    p_s=$(calc "sum(float(x) * 60 ** i for i, x in enumerate(reversed('$p_el'.split(':'))))")
    p_dps=$(calc "round($p_imp / $p_s) if $p_s else 0")
    rss_kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes):[[:space:]]*//p' "$LOG_DIR/product.$run.time")
    [ -n "$rss_kb" ] || rss_kb=0
    disk_b=$(du -sb -- "$DATA" | cut -f1)

    [[ "$f_dps" =~ ^[0-9.]+$ && "$p_dps" =~ ^[0-9.]+$ ]] || {
        echo "error: run $run: could not read docs_per_s (floor: '$fj', product: '$pj')" >&2; exit 1; }
    ratio=$(calc "round($p_dps / $f_dps, 3) if $f_dps else float('nan')")
    RATIOS+=("$ratio")
    # shellcheck disable=SC2059
    printf "$fmt" "$run" "$f_dps" "$p_dps" "$ratio" "$p_sum" "$(calc "round($rss_kb / 1024, 1)")" \
        "$(calc "round($disk_b / 1048576, 1)")" "$f_rss" "$(calc "round(${f_disk:-0} / 1048576, 1)")" "$p_rej"
done

median=$(python3 -c 'import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:]), 3))' "${RATIOS[@]}")
echo "median ratio (product / floor): $median   over $RUNS run(s); load now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kept: product data $DATA, floor output $FLOOR_OUT, logs $LOG_DIR"
