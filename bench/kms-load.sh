#!/usr/bin/env bash
# Decrypt throughput and latency of `ebsim kms serve` versus moto's KMS server, in one run,
# with the same Rust load generator (SigV4-signed keep-alive HTTP, 1 and 8 concurrent clients).
# Both servers listen on loopback on free ports and are stopped on exit.
#   bench/kms-load.sh [REQUESTS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-20000}
SECONDS_CAP=${2:-10}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q --bin ebsim -p ebsim
cargo build --release -q -p ebsim-kms-client --example kms_load
BIN=$CARGO_TARGET_DIR/release
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

"$BIN/ebsim" --data-dir "$tmp/data" kms serve --listen 127.0.0.1:0 >"$tmp/ebsim.out" &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on' "$tmp/ebsim.out" 2>/dev/null && break; sleep 0.1; done
EBSIM_URL="http://$(sed -n 's/^listening on //p' "$tmp/ebsim.out" | head -1)"

MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$tmp/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$MOTO_PORT),0.2)" 2>/dev/null && break; sleep 0.1; done
MOTO_URL="http://127.0.0.1:$MOTO_PORT"

echo "# $(nproc) cores; $REQUESTS requests / ${SECONDS_CAP}s cap per run"
"$BIN/examples/kms_load" --endpoint "$EBSIM_URL" --label ebsim --clients 1,8 --requests "$REQUESTS" --seconds "$SECONDS_CAP" | tee "$tmp/ebsim.json"
"$BIN/examples/kms_load" --endpoint "$MOTO_URL" --label moto --clients 1,8 --requests "$((REQUESTS / 20))" --seconds "$SECONDS_CAP" | tee "$tmp/moto.json"
python3 - "$tmp/ebsim.json" "$tmp/moto.json" <<'PY'
import json, sys
e = {r["clients"]: r for r in map(json.loads, open(sys.argv[1]))}
m = {r["clients"]: r for r in map(json.loads, open(sys.argv[2]))}
for c in sorted(e):
    print(f"clients={c}: ebsim {e[c]['decrypt_per_s']:.0f}/s (p50 {e[c]['p50_us']} us, p99 {e[c]['p99_us']} us), "
          f"moto {m[c]['decrypt_per_s']:.0f}/s (p50 {m[c]['p50_us']} us, p99 {m[c]['p99_us']} us), "
          f"ratio {e[c]['decrypt_per_s'] / max(m[c]['decrypt_per_s'], 1):.1f}x")
PY
