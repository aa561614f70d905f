#!/usr/bin/env bash
# KMS Sign in process (benches/kms_sign.rs: policy check and audit trail on) against
# `openssl speed rsa2048 ecdsap256` (sign/s, one process), in the same run: ROUNDS rounds of
# each in turns, then the medians and ebsim/openssl. docs/benchmarks.md, "KMS Sign".
#   bench/kms-sign.sh [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo bench -q --bench kms_sign --no-run 2>/dev/null
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(openssl version); $ROUNDS rounds"
for _ in $(seq "$ROUNDS"); do
    cargo bench -q --bench kms_sign -- --noplot --warm-up-time 1 --measurement-time 3 \
        2>/dev/null >>"$out/ebsim.txt"
    openssl speed -seconds 3 rsa2048 ecdsap256 2>/dev/null >>"$out/openssl.txt"
done
python3 - "$out/ebsim.txt" "$out/openssl.txt" <<'PY'
import re, statistics, sys
UNIT = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
ebsim = {}
name = None
for line in open(sys.argv[1]):
    if "%" in line:  # criterion's "change:" block against a saved baseline
        continue
    m = re.match(r"^(kms_sign/\S+)", line)
    if m:
        name = m.group(1)
    m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) ", line)
    if m and name:
        ebsim.setdefault(name, []).append(1.0 / (float(m.group(1)) * UNIT[m.group(2)]))
ossl = {"rsa": [], "ecdsa": []}
for line in open(sys.argv[2]):
    m = re.match(r"^rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)", line)
    if m:
        ossl["rsa"].append(float(m.group(1)))
    m = re.match(r"^\s*256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)", line)
    if m:
        ossl["ecdsa"].append(float(m.group(1)))
pairs = [("kms_sign/rsa2048_pkcs1_sha256", "rsa"), ("kms_sign/ecdsa_p256_sha256", "ecdsa")]
for bench, peer in pairs:
    e, o = ebsim.get(bench, []), ossl[peer]
    if not e or not o:
        print(f"{bench}: missing figures (ebsim {len(e)}, openssl {len(o)})")
        continue
    me, mo = statistics.median(e), statistics.median(o)
    print(f"{bench}: ebsim {me:,.0f} sign/s (runs {', '.join(f'{x:,.0f}' for x in e)}), "
          f"openssl {mo:,.0f} sign/s (runs {', '.join(f'{x:,.0f}' for x in o)}), ebsim/openssl {me/mo:.3f}")
PY
