#!/usr/bin/env bash
# Sparse copy through `ebsim volume serve`: nbdcopy of a 1 TiB volume holding DATA (16 pieces
# of random data, 64 GiB apart) against a volume of DATA bytes holding the same DATA, both
# served at once from tmpfs and copied to null: in turns (RUNS rounds), so that load from
# elsewhere falls on both alike. The sparse copy asks for block status over the whole
# terabyte and reads only the data; the goal is at most 1.5x the time of the dense copy.
# Also prints the bytes of read data each server sent (its stats line at shutdown).
#
# usage: bench/nbd-sparse.sh        (DATA_MIB=1024 RUNS=5 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/nbd-common.sh
DATA_MIB=${DATA_MIB:-1024}
RUNS=${RUNS:-5}
PORT_BASE=${PORT_BASE:-10970}
PIECE_MIB=$((DATA_MIB / 16))

command -v nbdcopy >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnbd-bin >/dev/null
}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release --bin ebsim
EBSIM=${EBSIM:-$CARGO_TARGET_DIR/release/ebsim}

WORK=$(mktemp -d /dev/shm/ebsim-nbd-sparse.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The data, and the same pieces placed 64 GiB apart in a sparse 1 TiB source file.
head -c "$((DATA_MIB << 20))" /dev/urandom >"$WORK/dense.bin"
truncate -s 1T "$WORK/sparse.bin"
for i in $(seq 0 15); do
    dd if="$WORK/dense.bin" of="$WORK/sparse.bin" bs=1M count="$PIECE_MIB" \
        skip=$((i * PIECE_MIB)) seek=$((i * 65536)) conv=notrunc status=none
done

D="$WORK/data"
serve() { # NAME SIZE PORT: sets URI and adds the server to PIDS
    local vol
    vol=$("$EBSIM" --data-dir "$D" volume create --size "$2")
    "$EBSIM" -v --data-dir "$D" volume serve "$vol" --listen "127.0.0.1:$3" \
        >/dev/null 2>"$WORK/$1.err" &
    PIDS+=($!)
    URI="nbd://127.0.0.1:$3/$vol"
}
serve sparse 1TiB $((PORT_BASE + 1))
SPARSE=$URI
serve dense "${DATA_MIB}MiB" $((PORT_BASE + 2))
DENSE=$URI
wait_port "$SPARSE"
wait_port "$DENSE"
nbdcopy --destination-is-zero "$WORK/sparse.bin" "$SPARSE"
nbdcopy --destination-is-zero "$WORK/dense.bin" "$DENSE"

echo "nbdcopy $(nbdcopy --version | head -1 | cut -d' ' -f2), ${DATA_MIB} MiB of data, median of $RUNS; $(nproc) CPUs"
S=() N=()
for _ in $(seq 1 "$RUNS"); do
    S+=("$(seconds "$SPARSE" null:)")
    N+=("$(seconds "$DENSE" null:)")
done
s=$(median "${S[@]}")
n=$(median "${N[@]}")
printf '1 TiB volume holding %s MiB:      %s s  (runs: %s)\n' "$DATA_MIB" "$s" "${S[*]}"
printf '%s MiB volume holding %s MiB:  %s s  (runs: %s)\n' "$DATA_MIB" "$DATA_MIB" "$n" "${N[*]}"
echo "sparse / dense time: $(ratio "$s" "$n")  (goal <= 1.5)"

# The copies read the data only: the read bytes each server sent.
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
PIDS=()
for name in sparse dense; do
    echo "$name server: $(grep -o 'read_bytes=[0-9]*.*' "$WORK/$name.err")"
done
