#!/usr/bin/env bash
# Refresh throughput and latency against the machine's own limits: starts authd
# on 127.0.0.1 with a chosen store and signing key, then runs
# examples/refresh_load.rs: the raw rotation SQL (no HTTP, no signing), the raw
# signing rate, HTTP refresh in a closed loop (maximum throughput) and at a
# fixed offered rate (open loop), and the server's idle and peak memory.
#
#   scripts/refresh-load.sh [sqlite|postgres] [HS256|ES256|EdDSA|RS256] [SECONDS] [RATE]
#   # defaults: sqlite ES256 10 1000
#
# postgres: a fresh database is created through TEST_DATABASE_URL (an admin
# URL, default postgres://postgres@127.0.0.1:5432/postgres) and dropped after.
# CLIENTS (closed-loop clients, default 16) and WORKERS (authd workers, default
# one per core) can be set in the environment; BIN_DIR, a directory holding
# `authd` and `refresh_load` built before, skips the build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
store=${1:-sqlite}
alg=${2:-ES256}
seconds=${3:-10}
rate=${4:-1000}
clients=${CLIENTS:-16}
admin=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# BIN_DIR: run binaries built before (to compare builds) instead of building.
if [[ -z ${BIN_DIR:-} ]]; then
    cargo build --release --bin authd --example refresh_load
    BIN_DIR=${CARGO_TARGET_DIR:-target}/release
    load=${BIN_DIR}/examples/refresh_load
else
    load=${BIN_DIR}/refresh_load
fi
authd=${BIN_DIR}/authd
work=$(mktemp -d)
db=""
pid=""
cleanup() {
    [[ -n ${pid} ]] && { kill "${pid}" 2>/dev/null || true; wait "${pid}" 2>/dev/null || true; }
    [[ -n ${db} ]] && psql "${admin}" -qc "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" >/dev/null
    rm -rf "${work}"
}
trap cleanup EXIT

case ${store} in
    sqlite) url=sqlite://${work}/authd.db ;;
    postgres)
        db=authd_load_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
        psql "${admin}" -qc "CREATE DATABASE ${db}" >/dev/null
        url=${admin%/*}/${db}
        ;;
    *) echo "store: sqlite or postgres" >&2; exit 2 ;;
esac

case ${alg} in HS256) ext=secret; field=secret_file ;; *) ext=pem; field=private_key_file ;; esac
"${authd}" keys generate --alg "${alg}" --kid load --out "${work}/key.${ext}" >/dev/null
cat >"${work}/authd.toml" <<EOF
[[jwt.keys]]
kid = "load"
alg = "${alg}"
${field} = "${work}/key.${ext}"
EOF

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export AUTHD_CONFIG=${work}/authd.toml
export AUTHD__DATA_DIR=${work}/data
export AUTHD__DATABASE__URL=${url}
export AUTHD__SERVER__PORT=${port}
export AUTHD__SERVER__WORKERS=${WORKERS:-0}
export AUTHD__LIMITS__REFRESH_PER_IP=100000000
export AUTHD__LIMITS__REGISTER_PER_IP=100000
export AUTHD__LOG__LEVEL=warn
"${authd}" serve >"${work}/authd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
rss() { awk -v f="$1" '$1 == f { printf "%.1f MB", $2 / 1024 }' "/proc/${pid}/status"; }
idle=$(rss VmRSS:)

cores=$(nproc)
echo "refresh load: ${store}, ${alg}, ${seconds} s per row, ${cores} cores shared by authd, the database and the load generator"
echo
echo "| run | per s | p50 ms | p90 ms | p99 ms | max ms | errors |"
echo "|---|---|---|---|---|---|---|"
"${load}" raw-sql --chains "${clients}" --seconds "${seconds}"
"${load}" raw-sign --threads 1 --seconds "${seconds}"
"${load}" raw-sign --threads "${cores}" --seconds "${seconds}"
"${load}" http "http://127.0.0.1:${port}" --clients "${clients}" --seconds "${seconds}"
"${load}" http "http://127.0.0.1:${port}" --rate "${rate}" --seconds "${seconds}"
echo
echo "authd memory: idle ${idle} resident; now $(rss VmRSS:), peak $(rss VmHWM:) (VmHWM)"
