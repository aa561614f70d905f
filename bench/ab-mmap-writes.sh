#!/usr/bin/env bash
# Old build against new build: `ebsim bench --store mmap --pattern random` writes of 4 KiB and
# 1 MiB, the two binaries run in turns (old, new, old, new, …) for ROUNDS rounds on the same
# directory; prints every run (write p50 and GB/s), the medians and new/old. The p50 latency
# is the steadier figure: GB/s also counts the writeback stalls of the page cache (p99).
#   bench/ab-mmap-writes.sh OLD_BIN NEW_BIN [ROUNDS=7] [DIR=a temporary dir under /tmp]
# OLD_BIN can come from bench/build-baseline.sh OLD_REV.
set -euo pipefail
OLD_BIN=${1:?usage: bench/ab-mmap-writes.sh OLD_BIN NEW_BIN [ROUNDS] [DIR]}
NEW_BIN=${2:?usage: bench/ab-mmap-writes.sh OLD_BIN NEW_BIN [ROUNDS] [DIR]}
ROUNDS=${3:-7}
dir=${4:-$(mktemp -d /tmp/ebsim-ab-mmap.XXXXXX)}
mkdir -p "$dir"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# prints "p50_ns GB/s" of the write op of one run: run BIN IO_SIZE
run() {
    "$1" --data-dir "$dir/data" --json bench --store mmap --pattern random --io-size "$2" \
        --seconds 1 --dir "$dir" |
        python3 -c 'import json,sys
r=[x for x in json.load(sys.stdin)["results"] if x["op"]=="write"][0]
print(r["p50_ns"], round(r["bytes_per_sec"]/1e9, 3))'
}

for size in 4KiB 1MiB; do
    for round in $(seq "$ROUNDS"); do
        for side in old new; do
            bin=$OLD_BIN
            [ "$side" = new ] && bin=$NEW_BIN
            read -r p50 gbs < <(run "$bin" "$size")
            echo "$size $side $round $p50 $gbs" | tee -a "$out"
        done
    done
done

python3 - "$out" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print("\n| write | old p50 | new p50 | new/old (time) | old GB/s | new GB/s | new/old (GB/s) | p50 spread old / new |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for size in ("4KiB", "1MiB"):
    def col(side, i):
        return [float(r[i]) for r in rows if r[0] == size and r[1] == side]
    op, np_ = col("old", 3), col("new", 3)
    og, ng = col("old", 4), col("new", 4)
    mo, mn = statistics.median(op), statistics.median(np_)
    go, gn = statistics.median(og), statistics.median(ng)
    print(f"| {size} | {mo:.0f} ns | {mn:.0f} ns | {mn/mo:.3f} | {go:.2f} | {gn:.2f} | {gn/go:.3f} | "
          f"{min(op):.0f}–{max(op):.0f} / {min(np_):.0f}–{max(np_):.0f} ns |")
EOF
