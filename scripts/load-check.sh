#!/usr/bin/env bash
# Starts authd on 127.0.0.1 and runs the load check against it: refresh latency
# alone and under a login flood at ten times the hashing capacity, and the
# server's idle and peak memory.
#
#   scripts/load-check.sh [SECONDS] [debug|release]      # default: 10 release
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/authd_load scripts/load-check.sh
#
# CI runs `scripts/load-check.sh 2 debug` as a smoke run; its figures are not
# asserted (debug builds hash far slower, and the machines are shared).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-10}
profile=${2:-release}
flag=(); [[ ${profile} == release ]] && flag=(--release)

cargo build "${flag[@]}" --bin authd --example load_check
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AUTHD__SERVER__PORT=${port} \
AUTHD__DATA_DIR=${work}/data \
AUTHD__DATABASE__URL=${DATABASE_URL:-sqlite://${work}/authd.db} \
AUTHD__LIMITS__REFRESH_PER_IP=100000000 \
AUTHD__LIMITS__REGISTER_PER_IP=100000 \
AUTHD__LOG__LEVEL=warn \
    "${target}/${profile}/authd" serve >"${work}/authd.log" 2>&1 &
pid=$!
trap 'kill ${pid} 2>/dev/null || true; wait ${pid} 2>/dev/null || true; rm -rf "${work}"' EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
"${target}/${profile}/examples/load_check" "http://127.0.0.1:${port}" --seconds "${seconds}" --pid "${pid}"
