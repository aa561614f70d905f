#!/usr/bin/env bash
# Old build against new build: Decrypt/s of `ebsim kms serve` at 8 clients, the two servers
# measured in turns (old, new, old, new, …) with the same load generator (this tree's
# kms_load example), ROUNDS rounds; prints every run, the medians and new/old.
#   bench/ab-kms-load.sh OLD_REV [ROUNDS=3] [REQUESTS=30000] [SECONDS=6]
# OLD_REV is built by bench/build-baseline.sh (a scratch worktree, target dir target-ab-old/).
# Loopback only; every server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD_REV=${1:?usage: bench/ab-kms-load.sh OLD_REV [ROUNDS] [REQUESTS] [SECONDS]}
ROUNDS=${2:-3}
REQUESTS=${3:-30000}
SECONDS_CAP=${4:-6}
root=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "# building $OLD_REV (old) and the work tree (new)" >&2
OLD_BIN=$(bash bench/build-baseline.sh "$OLD_REV" | tail -1)
cargo build --release -q --bin ebsim -p ebsim
cargo build --release -q -p ebsim-kms-client --example kms_load
NEW_BIN="$CARGO_TARGET_DIR/release/ebsim"
LOAD="$CARGO_TARGET_DIR/release/examples/kms_load"

run_one() { # label binary
    local label=$1 bin=$2 data="$tmp/data-$1-$RANDOM"
    "$bin" --data-dir "$data" kms serve --listen 127.0.0.1:0 >"$tmp/serve.out" &
    pid=$!
    for _ in $(seq 100); do grep -q '^listening on' "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
    local url="http://$(sed -n 's/^listening on //p' "$tmp/serve.out" | head -1)"
    "$LOAD" --endpoint "$url" --label "$label" --clients 8 --requests "$REQUESTS" --seconds "$SECONDS_CAP" \
        | tee -a "$tmp/$label.jsonl"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
    rm -rf "$data"
}

echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds of $REQUESTS requests / ${SECONDS_CAP}s cap, 8 clients"
for _ in $(seq "$ROUNDS"); do
    run_one old "$OLD_BIN"
    run_one new "$NEW_BIN"
done
python3 - "$tmp/old.jsonl" "$tmp/new.jsonl" <<'PY'
import json, statistics, sys
old = [json.loads(l) for l in open(sys.argv[1])]
new = [json.loads(l) for l in open(sys.argv[2])]
mo = statistics.median(r["decrypt_per_s"] for r in old)
mn = statistics.median(r["decrypt_per_s"] for r in new)
po = statistics.median(r["p99_us"] for r in old)
pn = statistics.median(r["p99_us"] for r in new)
print(f"old: median {mo:.0f} Decrypt/s (p99 {po} us) over {len(old)} runs")
print(f"new: median {mn:.0f} Decrypt/s (p99 {pn} us) over {len(new)} runs")
print(f"new/old throughput: {mn / mo:.3f}")
PY
