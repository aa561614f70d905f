#!/usr/bin/env bash
# Old build against new build on one criterion bench: runs `cargo bench --bench BENCH --
# FILTER` in a scratch worktree of OLD_REV and in this tree in turns (old, new, old, new, …),
# ROUNDS rounds, and prints every benchmark's median time of each side and new/old.
#   bench/ab-criterion.sh OLD_REV BENCH [FILTER] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
OLD_REV=${1:?usage: bench/ab-criterion.sh OLD_REV BENCH [FILTER] [ROUNDS]}
BENCH=${2:?usage: bench/ab-criterion.sh OLD_REV BENCH [FILTER] [ROUNDS]}
FILTER=${3:-}
ROUNDS=${4:-3}
root=$(pwd)
tree=$(mktemp -d)
out=$(mktemp -d)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"; rm -rf "$out"' EXIT
git worktree add -q --detach "$tree" "$OLD_REV"
run() { # label dir target-dir
    (cd "$2" && CARGO_TARGET_DIR="$3" cargo bench -q --bench "$BENCH" -- ${FILTER:+"$FILTER"} \
        --noplot --warm-up-time 1 --measurement-time 3 2>/dev/null) >>"$out/$1.txt"
}
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds of --bench $BENCH ${FILTER:+-- $FILTER}"
for _ in $(seq "$ROUNDS"); do
    run old "$tree" "$root/target-ab-old"
    run new "$root" "${CARGO_TARGET_DIR:-$root/target}"
done
python3 - "$out/old.txt" "$out/new.txt" <<'PY'
import re, statistics, sys
UNIT = {"ps": 1e-12, "ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
def parse(path):
    runs, name = {}, None
    for line in open(path):
        if "%" in line:  # criterion's "change:" block (time: [-1.2% …]) against a saved baseline
            continue
        m = re.match(r"^(\S.*?)\s+time:\s+\[\S+ \S+ (\S+) (\S+) ", line)
        if m:
            name = m.group(1)
        else:
            m2 = re.match(r"^(\S.*)$", line.rstrip())
            if m2 and "time:" not in line and not line.startswith(("Benchmarking", "Found", "  ")):
                name = m2.group(1)
            m = re.match(r"^\s+time:\s+\[\S+ \S+ (\S+) (\S+) ", line)
            if not m:
                continue
        value, unit = float(m.group(m.lastindex - 1)), m.group(m.lastindex)
        runs.setdefault(name, []).append(value * UNIT[unit])
    return runs
old, new = parse(sys.argv[1]), parse(sys.argv[2])
for name in sorted(set(old) & set(new)):
    o, n = statistics.median(old[name]), statistics.median(new[name])
    print(f"{name}: old {o*1e6:.3f} us, new {n*1e6:.3f} us (medians of {len(old[name])}/{len(new[name])}), new/old time {n/o:.3f}")
PY
