# Helpers for the NBD benchmark scripts (sourced): waiting for a server, medians, CPU ticks,
# timed nbdcopy runs, and x509 credentials made with the openssl command.

wait_port() { # URI
    for _ in $(seq 1 100); do
        nbdinfo --size "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server at $1 did not come up" >&2
    return 1
}

# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# CPU time (user + system, in clock ticks) of process $1 and its threads
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# seconds one nbdcopy run takes: seconds SRC DST
seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    nbdcopy "$1" "$2"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# make_creds DIR: DIR/server (ca-cert.pem, server-cert.pem, server-key.pem: qemu's, nbdkit's
# and ebsim's layout) and DIR/client (ca-cert.pem, client-cert.pem, client-key.pem: libnbd's)
make_creds() {
    local d=$1
    mkdir -p "$d/ca" "$d/server" "$d/client"
    (
        cd "$d/ca"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -keyout ca-key.pem -out ca-cert.pem -subj "/CN=bench CA" \
            -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
        for who in server client; do
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -keyout "$who-key.pem" -out "$who.csr" -subj "/CN=$who" 2>/dev/null
            if [[ $who == server ]]; then
                printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >ext
            else
                printf 'extendedKeyUsage=clientAuth\n' >ext
            fi
            openssl x509 -req -in "$who.csr" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
                -days 2 -out "$who-cert.pem" -extfile ext 2>/dev/null
            cp ca-cert.pem "$who-cert.pem" "$who-key.pem" "../$who/"
        done
    )
}
