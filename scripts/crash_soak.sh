#!/usr/bin/env bash
# The long crash soak: the same harness as the CI test `crash::acknowledged_writes_survive_sigkill`
# (4 concurrent writers doing single upserts, PATCHes, bulk and refused writes; the real binary
# SIGKILLed at a random moment 50 ms–2 s into each round; restarted; at the end every acknowledged
# write is checked by get and search, refused writes must be absent), with more kills.
#
# Usage: scripts/crash_soak.sh [KILLS=200]
#
# Runs `cargo test --release --test tests crash::acknowledged_writes_survive_sigkill` with
# CDX_CRASH_ROUNDS=KILLS and --nocapture, so the seed and the counts are printed. A failure names the
# seed; the generator is deterministic per seed (kill moments), the writers' interleaving is not.
set -euo pipefail
KILLS=${1:-200}
[[ "$KILLS" =~ ^[1-9][0-9]*$ ]] || { echo "error: KILLS must be a positive integer" >&2; exit 2; }
cd "$(dirname "$0")/.."
start=$(date +%s)
CDX_CRASH_ROUNDS=$KILLS cargo test --release --test tests crash::acknowledged_writes_survive_sigkill -- --nocapture 2>&1 |
    grep --line-buffered -E "crash harness|test result|panicked|lost|refused|FAILED|not found|appear" || true
echo "soak: $KILLS kills in $(( $(date +%s) - start )) s"
