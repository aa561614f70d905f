#!/usr/bin/env bash
# Reset and state restore of a data dir holding 100 keys, against a fresh start, in one run:
#  - reset: POST /ebsim/reset to `ebsim kms serve` (the 100 keys are re-created between runs,
#    untimed);
#  - restore: EbsimAdmin.RestoreState of a state saved with the 100 keys;
#  - fresh start: `ebsim kms serve` on a new, empty data dir, from the exec until
#    GET /ebsim/ping answers.
# Requests are signed with botocore (SigV4, test/test) before the clock starts; each run is
# timed from the request sent to the response read, over a kept-alive loopback connection.
# Prints the median of N runs of each, and the ratios to the fresh start.
#   bench/reset-restore.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
KEYS=100
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q --bin ebsim -p ebsim
BIN=$CARGO_TARGET_DIR/release/ebsim
tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

"$BIN" --data-dir "$tmp/data" kms serve --listen 127.0.0.1:0 >"$tmp/serve.out" &
pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/^listening on //p' "$tmp/serve.out" | head -1)
[ -n "$ADDR" ] || { echo "kms serve did not start" >&2; exit 1; }

echo "# $(nproc) cores; $KEYS keys; N=$N; $(uname -r); data dir on $(df -T "$tmp" | awk 'NR==2 {print $2}')"
python3 - "$ADDR" "$N" "$KEYS" "$BIN" "$tmp" <<'PY'
import http.client, json, os, shutil, statistics, subprocess, sys, time
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

addr, n, keys, binary, tmp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
host, port = addr.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
creds = Credentials("test", "test")

def signed(path, target=None, body=b""):
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method="POST", url=f"http://{addr}{path}", data=body, headers=headers)
    SigV4Auth(creds, "kms", "us-west-2").add_auth(req)
    return path, body, dict(req.headers.items())

def send(req):
    path, body, headers = req
    conn.request("POST", path, body, headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        sys.exit(f"{path} {headers.get('X-Amz-Target', '')}: {resp.status} {data!r}")
    return data

def timed(req):
    t = time.perf_counter()
    send(req)
    return time.perf_counter() - t

def admin(op, body=None):
    return signed("/", f"EbsimAdmin.{op}", json.dumps(body or {}).encode())

def create_keys():
    for _ in range(keys):
        send(signed("/", "TrentService.CreateKey", b"{}"))

def key_count():
    return len(json.loads(send(signed("/", "TrentService.ListKeys", b'{"Limit": 1000}')))["Keys"])

create_keys()
send(admin("SaveState", {"Name": "bench"}))

resets = []
for _ in range(n):
    if key_count() != keys:
        create_keys()
    resets.append(timed(signed("/ebsim/reset")))
    assert key_count() == 0

restores = []
for _ in range(n):
    restores.append(timed(admin("RestoreState", {"Name": "bench"})))
    assert key_count() == keys

starts = []
for i in range(n):
    d = os.path.join(tmp, f"fresh-{i}")
    t = time.perf_counter()
    p = subprocess.Popen([binary, "--data-dir", d, "kms", "serve", "--listen", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    a = line.strip().removeprefix("listening on ")
    h, pt = a.rsplit(":", 1)
    while True:
        try:
            c = http.client.HTTPConnection(h, int(pt), timeout=2)
            c.request("GET", "/ebsim/ping")
            if c.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.001)
    starts.append(time.perf_counter() - t)
    p.terminate()
    p.wait()
    shutil.rmtree(d, ignore_errors=True)

ms = lambda xs: statistics.median(xs) * 1000
r, s, f = ms(resets), ms(restores), ms(starts)
print(f"reset   (POST /ebsim/reset, {keys} keys):        median {r:8.2f} ms")
print(f"restore (RestoreState of {keys} keys):           median {s:8.2f} ms")
print(f"fresh start (kms serve, empty dir, to ping):   median {f:8.2f} ms")
print(f"reset / fresh start {r / f:.2f}; restore / fresh start {s / f:.2f}")
PY
