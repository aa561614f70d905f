#!/usr/bin/env bash
# NBD export throughput, side by side on loopback TCP, measured with nbdcopy (libnbd):
#   nbdkit memory plugin      - the protocol ceiling (no encryption, no storage)
#   qemu-nbd + LUKS           - qemu serving a LUKS2 aes-xts-plain64 image from tmpfs
#   ebsim (plain memory)      - this server over an in-memory device, no encryption
#   ebsim (XTS-AES-256)       - this server over an in-memory device encrypted with ebsim-io
#   ebsim volume serve        - `ebsim volume serve`: an encrypted volume (data dir on tmpfs,
#                               key unwrapped by the embedded KMS)
# All servers run at once and are measured in turns (round 1: a copy to each server, round 2:
# again, ...; then the reads the same way), so that load from elsewhere on the machine falls
# on every server alike. Each figure is the median of RUNS copies of SIZE bytes (random
# data); reads are measured after the export was written, so no server can skip holes. Every
# server gets the same nbdcopy command (defaults: 256 KiB requests, 64 in flight, 4
# connections - all of them advertise multi-conn), the same export size, and keeps its data
# on the same tmpfs. The first write to each export allocates its storage, later ones
# overwrite. Printed per server: the medians, every run, and the server's own CPU time per
# GiB moved (user + system, from /proc; nbdcopy's share is the same for every server), the
# median over the runs, which a busy machine disturbs much less than throughput.
#
# usage: bench/nbd.sh            (SIZE=1GiB RUNS=5 by default; SIZE in MiB via SIZE_MIB)
#        EBSIM_BASELINE=PATH bench/nbd.sh
#                                (also serves a volume with an earlier build's `ebsim`, e.g.
#                                 from bench/build-baseline.sh, measured in the same turns, and
#                                 prints new/old)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
SIZE=$((SIZE_MIB * 1024 * 1024))
PORT_BASE=${PORT_BASE:-10950}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nbdkit || ! need nbdcopy || ! need qemu-nbd; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nbdkit libnbd-bin qemu-utils >/dev/null
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p ebsim-nbd --example nbd-mem-server
cargo build -q --release --bin ebsim
SERVER="$CARGO_TARGET_DIR/release/examples/nbd-mem-server"
EBSIM="$CARGO_TARGET_DIR/release/ebsim"

WORK=$(mktemp -d /dev/shm/ebsim-nbd-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

head -c "$SIZE" /dev/urandom >"$WORK/src.bin"

# wait_port, median, ticks
source bench/nbd-common.sh

# prints GB/s of one nbdcopy run: timed SRC DST
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    nbdcopy "$1" "$2"
    t1=$(date +%s.%N)
    awk -v s="$SIZE" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", s / (b - a) / 1e9}'
}

echo "nbdcopy $(nbdcopy --version | head -1 | cut -d' ' -f2), ${SIZE_MIB} MiB, median of $RUNS; $(nproc) CPUs"

NAMES=() URIS=() SPIDS=()
add() { # name uri pid
    NAMES+=("$1") URIS+=("$2") SPIDS+=("$3")
    wait_port "$2"
}

# nbdkit memory plugin
P=$((PORT_BASE + 1))
nbdkit -f -i 127.0.0.1 -p "$P" memory "$SIZE" 2>/dev/null &
PIDS+=($!)
add "nbdkit memory" "nbd://127.0.0.1:$P" "$!"

# qemu-nbd serving a LUKS image (aes-256-xts-plain64) from tmpfs
P=$((PORT_BASE + 2))
qemu-img create -q -f luks --object secret,id=sec0,data=benchpass \
    -o key-secret=sec0,cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=plain64 \
    "$WORK/luks.img" "$SIZE"
qemu-nbd -t -b 127.0.0.1 -p "$P" -x disk --shared=8 \
    --object secret,id=sec0,data=benchpass \
    --image-opts "driver=luks,key-secret=sec0,file.filename=$WORK/luks.img" 2>/dev/null &
PIDS+=($!)
add "qemu-nbd + LUKS" "nbd://127.0.0.1:$P/disk" "$!"

# ebsim, plain memory
P=$((PORT_BASE + 3))
"$SERVER" --size "$SIZE" --listen "127.0.0.1:$P" --name disk >/dev/null 2>&1 &
PIDS+=($!)
add "ebsim plain memory" "nbd://127.0.0.1:$P/disk" "$!"

# ebsim, XTS-AES-256 over memory
P=$((PORT_BASE + 4))
"$SERVER" --size "$SIZE" --encrypt --listen "127.0.0.1:$P" --name disk >/dev/null 2>"$WORK/enc.err" &
PIDS+=($!)
add "ebsim XTS-AES-256" "nbd://127.0.0.1:$P/disk" "$!"

# ebsim volume serve: a real encrypted volume, data dir on tmpfs (embedded KMS)
D="$WORK/data"
VOL=$("$EBSIM" --data-dir "$D" volume create --size "${SIZE_MIB}MiB")
P=$((PORT_BASE + 5))
"$EBSIM" --data-dir "$D" volume serve "$VOL" --listen "127.0.0.1:$P" >/dev/null 2>&1 &
PIDS+=($!)
add "ebsim volume serve" "nbd://127.0.0.1:$P/$VOL" "$!"

# an earlier build's volume serve, measured in the same turns
if [[ -n ${EBSIM_BASELINE:-} ]]; then
    D="$WORK/data-baseline"
    VOL_B=$("$EBSIM_BASELINE" --data-dir "$D" volume create --size "${SIZE_MIB}MiB")
    P=$((PORT_BASE + 6))
    "$EBSIM_BASELINE" --data-dir "$D" volume serve "$VOL_B" --listen "127.0.0.1:$P" >/dev/null 2>&1 &
    PIDS+=($!)
    add "baseline volume serve" "nbd://127.0.0.1:$P/$VOL_B" "$!"
fi

declare -A W R WT RT
for dir in write read; do
    for i in $(seq 1 "$RUNS"); do
        for k in "${!NAMES[@]}"; do
            n=${NAMES[$k]}
            t0=$(ticks "${SPIDS[$k]}")
            if [[ $dir == write ]]; then
                W[$n]+="$(timed "$WORK/src.bin" "${URIS[$k]}") "
                WT[$n]+="$(($(ticks "${SPIDS[$k]}") - t0)) "
            else
                R[$n]+="$(timed "${URIS[$k]}" null:) "
                RT[$n]+="$(($(ticks "${SPIDS[$k]}") - t0)) "
            fi
        done
    done
done

HZ=$(getconf CLK_TCK)
declare -A WRITE READ
for k in "${!NAMES[@]}"; do
    n=${NAMES[$k]}
    # The data must have arrived intact.
    nbdcopy "${URIS[$k]}" "$WORK/check.bin"
    cmp -s "$WORK/src.bin" "$WORK/check.bin" || { echo "$n: data read back differs" >&2; exit 1; }
    rm -f "$WORK/check.bin"
    # shellcheck disable=SC2086
    WRITE[$n]=$(median ${W[$n]})
    # shellcheck disable=SC2086
    READ[$n]=$(median ${R[$n]})
    # median CPU ticks of the runs, as seconds per GiB
    # shellcheck disable=SC2086
    cpu() { awk -v t="$(median $1)" -v hz="$HZ" -v m="$SIZE_MIB" 'BEGIN {printf "%.2f", t / hz / (m / 1024)}'; }
    printf '%-20s write %5s GB/s  read %5s GB/s | server CPU s/GiB: write %s read %s | runs: write %s; read %s\n' \
        "$n" "${WRITE[$n]}" "${READ[$n]}" "$(cpu "${WT[$n]}")" "$(cpu "${RT[$n]}")" "${W[$n]% }" "${R[$n]% }"
done
grep -o 'XTS-AES-256 ([a-z0-9]* backend)' "$WORK/enc.err" || true
"$EBSIM" info 2>/dev/null | grep -i backend || true

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo
echo "ratios (goals: >= 0.8 x nbdkit memory, >= 5 x qemu-nbd + LUKS)"
for E in "ebsim XTS-AES-256" "ebsim volume serve"; do
    echo "  $E vs nbdkit memory:   write $(ratio "${WRITE[$E]}" "${WRITE[nbdkit memory]}")  read $(ratio "${READ[$E]}" "${READ[nbdkit memory]}")"
    echo "  $E vs qemu-nbd + LUKS: write $(ratio "${WRITE[$E]}" "${WRITE[qemu-nbd + LUKS]}")  read $(ratio "${READ[$E]}" "${READ[qemu-nbd + LUKS]}")"
done
if [[ -n ${EBSIM_BASELINE:-} ]]; then
    echo "  ebsim volume serve vs baseline (new/old): write $(ratio "${WRITE[ebsim volume serve]}" "${WRITE[baseline volume serve]}")  read $(ratio "${READ[ebsim volume serve]}" "${READ[baseline volume serve]}")"
fi
