#!/usr/bin/env bash
# NBD over TLS, side by side on loopback TCP, measured with nbdcopy (libnbd, GnuTLS):
#   nbdkit memory + TLS       - nbdkit's memory plugin, --tls=require --tls-verify-peer
#   ebsim volume serve + TLS  - an encrypted volume, --tls-creds (require), data dir on tmpfs
#   ebsim volume serve        - the same without TLS, for the cost of TLS itself
# Both TLS servers use the same credentials (made with the openssl command: P-256 keys, a
# client certificate signed by the CA, verified by the server). All servers run at once and
# are measured in turns, RUNS rounds of writes of SIZE random bytes, then of reads, as
# bench/nbd.sh does; printed: medians and every run, the server's own CPU time per GiB (user +
# system from /proc, median over the runs: what load from elsewhere disturbs least), and the
# ratio to nbdkit (goal >= 0.8).
#
# usage: bench/nbd-tls.sh           (SIZE_MIB=1024 RUNS=5 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/nbd-common.sh
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
SIZE=$((SIZE_MIB * 1024 * 1024))
PORT_BASE=${PORT_BASE:-10990}

if ! command -v nbdkit >/dev/null 2>&1 || ! command -v nbdcopy >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nbdkit libnbd-bin >/dev/null
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release --bin ebsim
EBSIM=${EBSIM:-$CARGO_TARGET_DIR/release/ebsim}

WORK=$(mktemp -d /dev/shm/ebsim-nbd-tls.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

head -c "$SIZE" /dev/urandom >"$WORK/src.bin"
make_creds "$WORK/creds"
Q="tls-certificates=$WORK/creds/client"

NAMES=() URIS=() SPIDS=()
add() { # name uri pid
    NAMES+=("$1") URIS+=("$2") SPIDS+=("$3")
    wait_port "$2"
}

P=$((PORT_BASE + 1))
nbdkit -f -i 127.0.0.1 -p "$P" --tls=require --tls-certificates="$WORK/creds/server" \
    --tls-verify-peer memory "$SIZE" 2>/dev/null &
PIDS+=($!)
add "nbdkit memory + TLS" "nbds://127.0.0.1:$P/?$Q" "$!"

D="$WORK/data"
VOL=$("$EBSIM" --data-dir "$D" volume create --size "${SIZE_MIB}MiB")
P=$((PORT_BASE + 2))
"$EBSIM" --data-dir "$D" volume serve "$VOL" --listen "127.0.0.1:$P" \
    --tls-creds "$WORK/creds/server" >/dev/null 2>&1 &
PIDS+=($!)
add "ebsim serve + TLS" "nbds://127.0.0.1:$P/$VOL?$Q" "$!"

VOL2=$("$EBSIM" --data-dir "$D" volume create --size "${SIZE_MIB}MiB")
P=$((PORT_BASE + 3))
"$EBSIM" --data-dir "$D" volume serve "$VOL2" --listen "127.0.0.1:$P" >/dev/null 2>&1 &
PIDS+=($!)
add "ebsim serve, no TLS" "nbd://127.0.0.1:$P/$VOL2" "$!"

gbps() { awk -v s="$SIZE" -v t="$1" 'BEGIN {printf "%.2f", s / t / 1e9}'; }
echo "nbdcopy $(nbdcopy --version | head -1 | cut -d' ' -f2), nbdkit $(nbdkit --version | cut -d' ' -f2), ${SIZE_MIB} MiB, median of $RUNS; $(nproc) CPUs"
declare -A W R WT RT
for dir in write read; do
    for _ in $(seq 1 "$RUNS"); do
        for k in "${!NAMES[@]}"; do
            n=${NAMES[$k]}
            t0=$(ticks "${SPIDS[$k]}")
            if [[ $dir == write ]]; then
                W[$n]+="$(gbps "$(seconds "$WORK/src.bin" "${URIS[$k]}")") "
                WT[$n]+="$(($(ticks "${SPIDS[$k]}") - t0)) "
            else
                R[$n]+="$(gbps "$(seconds "${URIS[$k]}" null:)") "
                RT[$n]+="$(($(ticks "${SPIDS[$k]}") - t0)) "
            fi
        done
    done
done
HZ=$(getconf CLK_TCK)
# median CPU ticks of the runs, as seconds per GiB
# shellcheck disable=SC2086
cpu() { awk -v t="$(median $1)" -v hz="$HZ" -v m="$SIZE_MIB" 'BEGIN {printf "%.2f", t / hz / (m / 1024)}'; }
declare -A WRITE READ
for k in "${!NAMES[@]}"; do
    n=${NAMES[$k]}
    nbdcopy "${URIS[$k]}" "$WORK/check.bin"
    cmp -s "$WORK/src.bin" "$WORK/check.bin" || { echo "$n: data read back differs" >&2; exit 1; }
    rm -f "$WORK/check.bin"
    # shellcheck disable=SC2086
    WRITE[$n]=$(median ${W[$n]})
    # shellcheck disable=SC2086
    READ[$n]=$(median ${R[$n]})
    printf '%-22s write %5s GB/s  read %5s GB/s | server CPU s/GiB: write %s read %s | runs: write %s; read %s\n' \
        "$n" "${WRITE[$n]}" "${READ[$n]}" "$(cpu "${WT[$n]}")" "$(cpu "${RT[$n]}")" "${W[$n]% }" "${R[$n]% }"
done
echo
K="nbdkit memory + TLS" E="ebsim serve + TLS"
echo "ebsim + TLS vs nbdkit memory + TLS: write $(ratio "${WRITE[$E]}" "${WRITE[$K]}")  read $(ratio "${READ[$E]}" "${READ[$K]}")  (goal >= 0.8)"
echo "ebsim + TLS vs ebsim without TLS:   write $(ratio "${WRITE[$E]}" "${WRITE[ebsim serve, no TLS]}")  read $(ratio "${READ[$E]}" "${READ[ebsim serve, no TLS]}")"
