#!/usr/bin/env bash
# Benchmarks authd with authd-bench on this machine: builds the binaries,
# starts authd on a fresh SQLite file and on a fresh PostgreSQL database, runs
# every scenario against each (login, refresh, verify, mixed, code-flow, sso,
# mfa-login, login-flood, forgot-flood) with
# the machine's limits measured alongside (Argon2id, the raw rotation SQL, raw
# signing, bare JWT decode), and writes the JSON reports, the printed tables
# and the latency charts into a results directory.
#
#   scripts/bench.sh                      # release, 5 s per scenario, HS256, both stores
#   scripts/bench.sh --alg ES256 --seconds 10 --store postgres
#   scripts/bench.sh --smoke              # CI: debug build, ~1 s per scenario, figures not asserted
#   scripts/bench.sh --store sqlite -- --scenario login-flood   # refresh alone and under a login flood
#   scripts/bench.sh --smoke --store sqlite -- --scenario login,code-flow,sso
#                                         # the authorization code flow and single sign-on, next to login
#   scripts/bench.sh --store sqlite --seconds 3 -- --scenario login,mfa-login
#                                         # a sign-in with password and TOTP against the password alone
#   scripts/bench.sh --store sqlite --raise-send-limits -- --scenario forgot-flood --forgot-rate 500
#                                         # refresh under a forgot flood that queues a message per known address
#   scripts/bench.sh --store postgres -- --scenario refresh --rate 1000   # open loop at 1,000/s
#   scripts/bench.sh --bin-dir old/release --out before   # before/after: binaries of another build
#
# Options:
#   --alg HS256|RS256|ES256|EdDSA   signing algorithm of the server (default HS256)
#   --seconds N                     measured seconds per scenario (default 5)
#   --store sqlite|postgres|both    (default both; postgres is skipped with a
#                                   note when no admin URL is set, unless asked for)
#   --out DIR                       results directory (default bench-results/<UTC time>)
#   --smoke                         short debug run for CI
#   --raise-send-limits             lift email.per_ip_limit and the per-recipient budgets
#                                   too, so that every forgot request of the
#                                   forgot-flood scenario is accepted (by default
#                                   all but the first 20 are refused with 429)
#   --bin-dir DIR                   run DIR/authd and DIR/authd-bench, built before,
#                                   instead of building (to compare two builds of a
#                                   change: the raw rotation SQL is authd-bench's, so
#                                   both binaries must come from the same build)
#   -- ARGS                         passed on to authd-bench (e.g. -- --concurrency 32,
#                                   -- --scenario login-flood --flood-multiple 10)
#
# PostgreSQL: BENCH_DATABASE_URL, else TEST_DATABASE_URL (e.g.
# postgres://postgres@127.0.0.1:5432/postgres), a server on this machine where
# a database may be created; the script creates one and drops it afterwards.
#
# The per-IP abuse limits (20 registrations an hour, 600 refreshes a minute,
# 100 failed logins, 60 password hashes a minute) would stop a load generator on 127.0.0.1 at once: the
# server started here has them lifted. Its log level is authd's default, info
# (a request span each, a JSON line per login), unless BENCH_LOG_LEVEL says
# otherwise; the log goes to <results>/authd-<store>.log. The code-flow and sso
# scenarios sign the same few users in over and over, and every authorization
# starts a client family under the app's cap, refresh.max_sessions_per_user
# (100): raised to 100,000 here, so that what is measured is the flow, not the
# end of the hundredth-oldest family at each sign-in. The mfa-login scenario
# sends every TOTP code from 127.0.0.1: limits.code_per_ip is lifted too. Its
# users (enrolled before the run, two password hashes each) can each spend a
# TOTP step once, so --mfa-users is set from --seconds for ~200 sign-ins/s:
# 400 per second of warm-up and window, at most 6,000 (30 s at 200/s), unless
# given after --. The mail send limits
# stay at their defaults unless --raise-send-limits; with no SMTP server set,
# messages are written as .eml files into the server's data_dir/mail, which
# the forgot-flood scenario counts. Any other AUTHD__* variable set when this
# script is called reaches the server too (e.g. AUTHD__EMAIL__BATCH_SIZE=50).
# Nothing else differs from the defaults
# (Argon2id m=19456 t=2 p=1, one worker per core), except in --smoke, where
# cheap Argon2id parameters keep a debug build quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

alg=HS256
seconds=5
store=both
out=""
smoke=0
raise_send_limits=0
bin_dir=""
extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --alg) alg=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --store) store=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --smoke) smoke=1; shift ;;
        --raise-send-limits) raise_send_limits=1; shift ;;
        --bin-dir) bin_dir=$2; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "bench: unknown option $1 (see the head of $0)" >&2; exit 2 ;;
    esac
done
case ${store} in sqlite|postgres|both) ;; *) echo "bench: --store sqlite|postgres|both" >&2; exit 2 ;; esac

if [[ ${smoke} -eq 1 ]]; then
    profile=debug
    cargo_flags=()
    bench_flags=(--duration 1 --warmup 0.2 --limit-seconds 0.5 --users 4 --sessions 8 --concurrency 4
        --mfa-users 300)
else
    profile=release
    cargo_flags=(--release)
    bench_flags=(--duration "${seconds}" --warmup 1 --capacity-fraction 0.8 --concurrency 16 --users 50 --sessions 64)
    if [[ " ${extra[*]} " != *" --mfa-users"* ]]; then
        # The closed-loop window and its open-loop repeat, each after 1 s of warm-up.
        bench_flags+=(--mfa-users "$(awk -v s="${seconds}" 'BEGIN { n = int((s + 1) * 2 * 200); print (n > 6000 ? 6000 : n) }')")
    fi
fi
out=${out:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "${out}"

if [[ -n ${bin_dir} ]]; then
    authd_bin=${bin_dir}/authd
    bench_bin=${bin_dir}/authd-bench
    for bin in "${authd_bin}" "${bench_bin}"; do
        [[ -x ${bin} ]] || { echo "bench: --bin-dir: no executable ${bin}" >&2; exit 2; }
    done
    profile="binaries from ${bin_dir}"
else
    cargo build "${cargo_flags[@]}" -p authd -p authd-bench --bins
    target_dir=${CARGO_TARGET_DIR:-target}
    authd_bin=${target_dir}/${profile}/authd
    bench_bin=${target_dir}/${profile}/authd-bench
fi

work=$(mktemp -d)
server_pid=""
pg_admin=""
pg_db=""
cleanup() {
    if [[ -n ${server_pid} ]]; then
        kill "${server_pid}" 2>/dev/null || true
        wait "${server_pid}" 2>/dev/null || true
    fi
    if [[ -n ${pg_db} ]]; then
        psql -X -q -w "${pg_admin}" -c "DROP DATABASE IF EXISTS ${pg_db} WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "${work}"
}
trap cleanup EXIT

# The signing key: jwt.keys can only be set in a configuration file. An HS256
# key never signs ID tokens: with --alg HS256 an RS256 key signs those (the
# code-flow and sso scenarios ask for openid), HS256 the access tokens.
"${authd_bin}" keys generate --alg "${alg}" --kid "bench-${alg,,}" --out "${work}/jwt.key" >"${work}/keygen.txt"
if [[ ${alg} == HS256 ]]; then
    "${authd_bin}" keys generate --alg RS256 --kid bench-id-rs256 --out "${work}/id.key" >"${work}/keygen-id.txt"
fi
{
    if [[ ${smoke} -eq 1 ]]; then
        printf '[password]\nargon2_m_cost = 1024\nargon2_t_cost = 1\nargon2_p_cost = 1\n\n'
    fi
    if [[ ${alg} == HS256 ]]; then
        printf '[jwt]\nsigning_kid = "bench-hs256"\nsigning_kids = ["bench-id-rs256"]\n\n'
        sed -n '/^\[\[jwt.keys\]\]/,/^$/p' "${work}/keygen-id.txt"
    fi
    sed -n '/^\[\[jwt.keys\]\]/,$p' "${work}/keygen.txt"
} >"${work}/authd.toml"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts authd on database URL $2 (label $1), runs every scenario, stops it.
bench_store() {
    local label=$1 url=$2 port metrics_port
    port=$(free_port)
    # Every metric (the forgot flood reads the outbox's) is on metrics.listen.
    metrics_port=$(free_port)
    rm -rf "${work}/data"
    local send_limits=() label_note=""
    if [[ ${raise_send_limits} -eq 1 ]]; then
        send_limits=(AUTHD__EMAIL__PER_IP_LIMIT=1000000000 AUTHD__EMAIL__PER_RECIPIENT_LIMIT=1000000000
            AUTHD__EMAIL__PER_RECIPIENT_TOTAL_LIMIT=1000000000)
        label_note=", send limits raised"
    fi
    env "${send_limits[@]}" \
    AUTHD_CONFIG=${work}/authd.toml \
    AUTHD__SERVER__HOST=127.0.0.1 \
    AUTHD__SERVER__PORT=${port} \
    AUTHD__SERVER__ISSUER=http://127.0.0.1:${port} \
    AUTHD__DATA_DIR=${work}/data \
    AUTHD__METRICS__LISTEN=127.0.0.1:${metrics_port} \
    AUTHD__DATABASE__URL=${url} \
    AUTHD__LIMITS__REGISTER_PER_IP=1000000 \
    AUTHD__ACCOUNTS__EMAIL_VERIFICATION=off \
    AUTHD__LIMITS__REFRESH_PER_IP=1000000000 \
    AUTHD__LIMITS__LOGIN_IP_FAILURES=1000000 \
    AUTHD__LIMITS__LOGIN_ACCOUNT_FAILURES=1000000 \
    AUTHD__LIMITS__LOGIN_ACCOUNT_WIDE_FAILURES=1000000 \
    AUTHD__LIMITS__HASH_PER_IP=1000000000 \
    AUTHD__LIMITS__CODE_PER_IP=1000000000 \
    AUTHD__REFRESH__MAX_SESSIONS_PER_USER=100000 \
    AUTHD__LOG__LEVEL=${BENCH_LOG_LEVEL:-info} \
        "${authd_bin}" serve >"${out}/authd-${label}.log" 2>&1 &
    server_pid=$!
    local ready=0
    for _ in $(seq 1 150); do
        if curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1; then ready=1; break; fi
        sleep 0.1
    done
    if [[ ${ready} -ne 1 ]]; then
        echo "bench: authd (${label}) did not become ready; its log:" >&2
        cat "${out}/authd-${label}.log" >&2
        exit 1
    fi
    local shared="authd (pid ${server_pid}) and authd-bench"
    [[ ${label} == postgres ]] && shared="authd (pid ${server_pid}), PostgreSQL and authd-bench"
    echo "== ${label}: authd ${profile} on 127.0.0.1:${port}, ${alg} =="
    "${bench_bin}" \
        --target "http://127.0.0.1:${port}" \
        --config "${work}/authd.toml" \
        --database-url "${url}" \
        --server-pid "${server_pid}" \
        --label "${label}${label_note}" \
        --mail-dir "${work}/data/mail" \
        --metrics-url "http://127.0.0.1:${metrics_port}/metrics" \
        --shared-with "${shared}" \
        --json-out "${out}/${label}.json" \
        --chart "${out}/${label}.svg" \
        "${bench_flags[@]}" "${extra[@]}" | tee "${out}/${label}.txt"
    kill "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    server_pid=""
}

reports=()
if [[ ${store} == sqlite || ${store} == both ]]; then
    bench_store sqlite "sqlite://${work}/authd.db"
    reports+=(--from-json "${out}/sqlite.json")
fi
if [[ ${store} == postgres || ${store} == both ]]; then
    pg_admin=${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:-}}
    if [[ -z ${pg_admin} ]]; then
        [[ ${store} == postgres ]] && { echo "bench: set BENCH_DATABASE_URL or TEST_DATABASE_URL" >&2; exit 1; }
        echo "bench: note: no BENCH_DATABASE_URL or TEST_DATABASE_URL: the PostgreSQL run is SKIPPED" >&2
    else
        pg_db=authd_bench_$(date -u +%s)_$$
        psql -X -q -w "${pg_admin}" -c "CREATE DATABASE ${pg_db}" >/dev/null
        bench_store postgres "${pg_admin%/*}/${pg_db}"
        psql -X -q -w "${pg_admin}" -c "DROP DATABASE IF EXISTS ${pg_db} WITH (FORCE)" >/dev/null
        pg_db=""
        reports+=(--from-json "${out}/postgres.json")
    fi
fi
if [[ ${#reports[@]} -gt 2 ]]; then
    "${bench_bin}" --chart "${out}/latency.svg" "${reports[@]}"
fi
echo "bench: results in ${out}/"
