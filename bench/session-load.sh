#!/usr/bin/env bash
# Decrypt over HTTP signed with session credentials (a role's AssumeRole session: ASIA key and
# session token) against long-term ones (an IAM user's AKIA key), at 8 clients, on one
# `ebsim serve`, in turns for ROUNDS rounds (which goes first alternates by round);
# prints every run, the medians, their spread and session/long-term.
#   bench/session-load.sh [ROUNDS=5] [REQUESTS=30000] [SECONDS=6]
# Loopback only; the server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
REQUESTS=${2:-30000}
SECONDS_CAP=${3:-6}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q --bin ebsim -p ebsim
cargo build --release -q -p ebsim-kms-client --example kms_load
BIN=$CARGO_TARGET_DIR/release
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

"$BIN/ebsim" --data-dir "$tmp/data" serve --listen 127.0.0.1:0 >"$tmp/serve.out" &
pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
URL="http://$(sed -n 's/^listening on //p' "$tmp/serve.out" | head -1)"

echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds of $REQUESTS requests / ${SECONDS_CAP}s cap, 8 clients"
for round in $(seq "$ROUNDS"); do
    # Which goes first alternates, so that a drift in the machine's load favours neither.
    order="long-term session"
    [ $((round % 2)) -eq 0 ] && order="session long-term"
    for creds in $order; do
        "$BIN/examples/kms_load" --endpoint "$URL" --label "$creds" --credentials "$creds" \
            --clients 8 --requests "$REQUESTS" --seconds "$SECONDS_CAP" | tee -a "$tmp/$creds.jsonl"
    done
done
python3 - "$tmp/long-term.jsonl" "$tmp/session.jsonl" <<'PY'
import json, statistics, sys
lt = [json.loads(l) for l in open(sys.argv[1])]
se = [json.loads(l) for l in open(sys.argv[2])]
assert all(r["errors"] == 0 for r in lt + se), "a run had errors"
def show(name, runs):
    rates = [r["decrypt_per_s"] for r in runs]
    print(f"{name}: median {statistics.median(rates):.0f} Decrypt/s (min {min(rates):.0f}, max {max(rates):.0f}; p99 median {statistics.median(r['p99_us'] for r in runs)} us) over {len(runs)} runs")
    return statistics.median(rates)
a = show("long-term", lt)
b = show("session  ", se)
ratios = [s["decrypt_per_s"] / l["decrypt_per_s"] for l, s in zip(lt, se)]
print(f"session/long-term: {b / a:.3f} (per round: {', '.join(f'{r:.3f}' for r in ratios)})")
PY
