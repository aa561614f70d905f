#!/usr/bin/env bash
# Snapshot speed, each against a peer in the same run (docs/benchmarks.md, "Snapshots"):
#
# 1. A second snapshot after DATA_MIB of new writes to a 1 TiB sparse volume (which already
#    holds DATA_MIB from before the first snapshot), against `ebsim volume read` of those
#    DATA_MIB. Goal: at most 1.5x the time.
# 2. A restore from the local store (`ebsim volume create --snapshot`), as bytes per second
#    of the snapshot's data, against `ebsim bench --store mmap` sequential writes. Goal: at
#    least 0.5x the throughput.
#
# Everything lives in tmpfs. RUNS rounds, the pair of each round run back to back.
#
# usage: nice -n 10 bench/snapshot.sh        (DATA_MIB=1024 RUNS=3 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_MIB=${DATA_MIB:-1024}
RUNS=${RUNS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release --bin ebsim
EBSIM=${EBSIM:-$CARGO_TARGET_DIR/release/ebsim}

WORK=$(mktemp -d /dev/shm/ebsim-snapshot-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
D="$WORK/data"
e() { "$EBSIM" --data-dir "$D" "$@"; }
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

head -c "$((DATA_MIB << 20))" /dev/urandom >"$WORK/old.bin"
head -c "$((DATA_MIB << 20))" /dev/urandom >"$WORK/new.bin"
echo "data: ${DATA_MIB} MiB; runs: $RUNS; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$RUNS"); do
    rm -rf "$D"
    vol=$(e volume create --size 1TiB)
    e volume write "$vol" --offset 0 --input "$WORK/old.bin" >/dev/null
    e snapshot create "$vol" --wait >/dev/null
    # New writes half a terabyte further on.
    e volume write "$vol" --offset 512GiB --input "$WORK/new.bin" >/dev/null

    t0=$(now)
    snap=$(e --json snapshot create "$vol" --wait | awk -F'"' '/"snapshot_id"/ { print $4; exit }')
    t1=$(now)
    e volume read "$vol" --offset 512GiB --length "${DATA_MIB}MiB" --output "$WORK/read.bin" >/dev/null
    t2=$(now)
    snap_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    read_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')
    changed=$(e --json snapshot describe "$snap" | awk -F': ' '/"changed_blocks"/ { gsub(",", "", $2); print $2 }')
    rm -f "$WORK/read.bin"

    t3=$(now)
    restored=$(e volume create --snapshot "$snap")
    t4=$(now)
    restore_s=$(awk -v a="$t3" -v b="$t4" 'BEGIN { print b - a }')
    # Both DATA_MIB pieces were restored.
    restore_bps=$(awk -v s="$restore_s" -v m="$DATA_MIB" 'BEGIN { print 2 * m * 1048576 / s }')
    e volume delete "$restored" >/dev/null
    bench_bps=$(e --json bench --store mmap --pattern seq --size "${DATA_MIB}MiB" --seconds 1 --dir "$WORK" |
        tr '{' '\n' | awk -F'"bytes_per_sec":' '/"op":"write"/ { split($2, a, ","); print a[1] }')

    printf 'run %d: second snapshot %.3f s (%s blocks changed) vs volume read %.3f s: %sx the time; ' \
        "$run" "$snap_s" "$changed" "$read_s" "$(ratio "$snap_s" "$read_s")"
    printf 'restore %.0f MB/s vs bench mmap seq write %.0f MB/s: %sx\n' \
        "$(awk -v b="$restore_bps" 'BEGIN { print b / 1e6 }')" \
        "$(awk -v b="$bench_bps" 'BEGIN { print b / 1e6 }')" "$(ratio "$restore_bps" "$bench_bps")"
done
