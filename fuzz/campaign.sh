#!/usr/bin/env bash
# Fuzz campaign: runs every target of the fuzz/ workspace, one at a time, for SECONDS each
# (default 600) and then on until it has made at least MIN_EXECS executions (default
# 10,000,000), starting from the hand-written seeds (seeds/<target>/) and the corpus of earlier
# campaigns (corpus/<target>/); minimises what it grew (`cargo fuzz cmin`) and writes it to
# corpus/<target>/ (the seeds stay as they are); prints one Markdown table row per target: seconds, executions, libFuzzer's
# final cov: and ft:, corpus files before and after. A crash stops the campaign (the input is
# in artifacts/<target>/). Run it under `nice -n 10` on a shared machine:
#   nice -n 10 fuzz/campaign.sh [SECONDS] [TARGET...]
# The figures of the last campaign are in docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
min_execs="${MIN_EXECS:-10000000}"
max_len="${MAX_LEN:-8192}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -O
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# The figure NAME of libFuzzer's final stats (-print_final_stats=1) in a log.
stat() { awk -v k="stat::$2:" '$1 == k {v = $2} END {print v + 0}' "$1"; }
# The last "cov: N" / "ft: N" of a log.
last() { grep -oE "$2: [0-9]+" "$1" | tail -1 | awk '{print $2}'; }

echo "| target | seconds | executions | cov | ft | inputs before (seeds + corpus) | corpus after (cmin) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t"
    work="$logs/$t"
    mkdir -p "$work"
    cp -R "seeds/$t/." "corpus/$t/." "$work/"
    before=$(find "$work" -type f | wc -l)
    started=$(date +%s)
    execs=0
    log="$logs/$t.log"
    # First for the time given, then on until the executions reach the minimum.
    cargo fuzz run -O "$t" "$work" -- -max_total_time="$seconds" -max_len="$max_len" \
        -print_final_stats=1 >"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
    execs=$(stat "$log" number_of_executed_units)
    while [ "$execs" -lt "$min_execs" ]; do
        more=$((min_execs - execs))
        cargo fuzz run -O "$t" "$work" -- -runs="$more" -max_len="$max_len" \
            -print_final_stats=1 >"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
        execs=$((execs + $(stat "$log" number_of_executed_units)))
    done
    elapsed=$(($(date +%s) - started))
    cov=$(last "$log" cov)
    ft=$(last "$log" ft)
    cargo fuzz cmin -O "$t" "$work" -- -max_len="$max_len" >"$logs/$t.cmin" 2>&1 \
        || { tail -20 "$logs/$t.cmin" >&2; exit 1; }
    rm -rf "corpus/$t"
    mkdir -p "corpus/$t"
    cp -R "$work/." "corpus/$t/"
    after=$(find "corpus/$t" -type f | wc -l)
    echo "| \`$t\` | $elapsed | $execs | $cov | $ft | $before | $after |"
done
