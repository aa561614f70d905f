#!/usr/bin/env bash
# Old build against new build in instructions: builds `benches/kms.rs` at OLD_REV (scratch
# worktree) and in this tree, runs each `kms/` benchmark once under callgrind on both, and
# prints the instructions per `Kms::call` made by the bench loop and new/old. Instruction
# counts do not depend on the machine's load, unlike times (docs/benchmarks.md).
#   bench/ab-callgrind.sh OLD_REV
set -euo pipefail
cd "$(dirname "$0")/.."
OLD_REV=${1:?usage: bench/ab-callgrind.sh OLD_REV}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
root=$(pwd)
tree=$(mktemp -d)
out=$(mktemp -d)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"; rm -rf "$out"' EXIT
git worktree add -q --detach "$tree" "$OLD_REV"
bench_bin() { # dir target-dir
    (cd "$1" && CARGO_TARGET_DIR="$2" cargo bench -q --bench kms --no-run --message-format=json 2>/dev/null) |
        python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="kms" and m.get("executable"): print(m["executable"])' | tail -1
}
old=$(bench_bin "$tree" "$root/target-ab-old")
new=$(bench_bin "$root" "${CARGO_TARGET_DIR:-$root/target}")
per_call() { # binary filter
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$1" --bench "$2" --profile-time 1 >/dev/null 2>&1
    callgrind_annotate --tree=caller --auto=no "$out/cg.out" 2>/dev/null |
        grep -B3 '\* .*service/mod.rs:ebsim_kms::service::Kms::call ' |
        python3 -c 'import re,sys
for l in sys.stdin:
    m=re.match(r"^\s*([\d,]+) \(.*< .*Bencher<M>::iter \(([\d,]+)x\)",l)
    if m: print(round(int(m.group(1).replace(",",""))/int(m.group(2).replace(",",""))))'
}
echo "# instructions per Kms::call, $OLD_REV -> $(git rev-parse --short HEAD)"
for b in 'kms/decrypt/grant$' 'kms/decrypt/grant/audit_file$' 'kms/decrypt/key_policy_via_ec2$' \
    'kms/generate_data_key_without_plaintext/via_ec2$'; do
    o=$(per_call "$old" "$b"); n=$(per_call "$new" "$b")
    python3 -c "import sys; print(f'{sys.argv[1]}: old {sys.argv[2]}, new {sys.argv[3]}, new/old {int(sys.argv[3])/int(sys.argv[2]):.4f}')" "$b" "$o" "$n"
done
