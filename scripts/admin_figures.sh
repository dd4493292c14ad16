#!/usr/bin/env bash
# Figures of the admin API's user list (GET /admin/users) at many users, on
# SQLite and on PostgreSQL: the time of a page (the first one, and every page
# of a walk through the whole list by its cursor) and of the exact total
# (count=exact), without and with filters. It prints figures; it asserts none.
#
#   scripts/admin_figures.sh [--users N] [--store sqlite|postgres|both] [--bin PATH]
#
# Users are seeded with SQL (no password hashing): N users one second apart,
# every other one verified, one in ten with a confirmed TOTP factor. authd runs
# on 127.0.0.1 with a fresh SQLite file, or a fresh PostgreSQL database made
# through AUTHD_FIGURES_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# and dropped at the end. Without --bin it builds authd in debug, which is
# slower than a release build: pass --bin target/release/authd for figures
# worth comparing. Times are curl's time_total, client and loopback included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
users=100000
store=both
bin=
while [[ $# -gt 0 ]]; do
    case $1 in
    --users) users=$2; shift 2 ;;
    --store) store=$2; shift 2 ;;
    --bin) bin=$(realpath "$2"); shift 2 ;;
    *) echo "usage: scripts/admin_figures.sh [--users N] [--store sqlite|postgres|both] [--bin PATH]" >&2; exit 2 ;;
    esac
done
if [[ -z ${bin} ]]; then
    cargo build --quiet --bin authd
    bin=${PWD}/target/debug/authd
fi
pg_admin=${AUTHD_FIGURES_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
work=$(mktemp -d)
server_pid=
pg_db=
cleanup() {
    if [[ -n ${server_pid} ]]; then kill "${server_pid}" 2>/dev/null || true; wait "${server_pid}" 2>/dev/null || true; fi
    if [[ -n ${pg_db} ]]; then psql -q "${pg_admin}" -c "DROP DATABASE IF EXISTS ${pg_db}" >/dev/null 2>&1 || true; fi
    rm -rf "${work}"
}
trap cleanup EXIT
port=18400
while (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; do port=$((port + 1)); done
base=http://127.0.0.1:${port}

# `exec`, so that `authd serve &` is the server itself and `kill` stops it.
authd() {
    exec env -u AUTHD_CONFIG -u AUTHD_ENV_FILE \
        AUTHD__DATA_DIR="${work}/data" \
        AUTHD__SERVER__PORT="${port}" \
        AUTHD__LOG__LEVEL=warn \
        AUTHD__LIMITS__ADMIN_PER_CLIENT=1000000 \
        ${database_url:+AUTHD__DATABASE__URL="${database_url}"} \
        "${bin}" "$@"
}

seed_sqlite() {
    sqlite3 "${work}/data/authd.db" <<SQL
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${users})
INSERT INTO users (id, email, password_hash, created_at, updated_at, email_verified_at)
SELECT randomblob(16), 'user' || i || '@example.com', 'x',
       strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-' || (${users} - i) || ' seconds'),
       strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'),
       CASE WHEN i % 2 = 0 THEN strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') END
FROM s;
INSERT INTO totp_factors (id, user_id, sealed_key_id, sealed_nonce, sealed_secret, created_at, confirmed_at, last_used_step)
SELECT randomblob(16), id, 1, x'00', x'00', created_at, created_at, 0 FROM users WHERE email LIKE '%0@example.com';
ANALYZE;
SQL
}

seed_postgres() {
    psql -q "${database_url}" <<SQL
INSERT INTO users (id, email, password_hash, created_at, updated_at, email_verified_at)
SELECT gen_random_uuid(), 'user' || i || '@example.com', 'x',
       now() - make_interval(secs => ${users} - i), now(),
       CASE WHEN i % 2 = 0 THEN now() END
FROM generate_series(1, ${users}) AS i;
INSERT INTO totp_factors (id, user_id, sealed_key_id, sealed_nonce, sealed_secret, created_at, confirmed_at, last_used_step)
SELECT gen_random_uuid(), id, 1, '\x00', '\x00', created_at, created_at, 0 FROM users WHERE email LIKE '%0@example.com';
ANALYZE;
SQL
}

# Milliseconds of one GET as the client; the body goes to ${work}/body.
get_ms() {
    curl -fsS -o "${work}/body" -w '%{time_total}' -u "${client_id}:${client_secret}" "${base}$1" |
        awk '{ printf "%.1f", $1 * 1000 }'
}

# The median and the largest of five runs of one GET, in milliseconds.
five() {
    local times=()
    for _ in 1 2 3 4 5; do times+=("$(get_ms "$1")"); done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { printf "median %7.1f ms  max %7.1f ms", t[3], t[5] }'
}

run() {
    local name=$1
    mkdir -p "${work}/data"
    (authd migrate >/dev/null)
    "seed_${name}"
    local client
    client=$(authd clients create --name figures --scopes "authd:admin:users:read")
    client_id=$(sed -n 's/^client_id *= *//p' <<<"${client}")
    client_secret=$(sed -n 's/^client_secret *= *//p' <<<"${client}")
    authd serve >"${work}/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 60); do
        curl -fsS "${base}/healthz" >/dev/null 2>&1 && break
        kill -0 "${server_pid}" 2>/dev/null || { cat "${work}/server.log" >&2; exit 1; }
        sleep 1
    done
    get_ms "/admin/users?limit=1" >/dev/null || { cat "${work}/server.log" >&2; exit 1; } # warm the pool
    echo "== ${name}: ${users} users"
    printf '%-58s %s\n' "first page, limit=50" "$(five '/admin/users?limit=50')"
    printf '%-58s %s\n' "first page, limit=200" "$(five '/admin/users?limit=200')"
    printf '%-58s %s\n' "first page, limit=50, verified=true&has_second_factor=true" \
        "$(five '/admin/users?limit=50&verified=true&has_second_factor=true')"
    printf '%-58s %s\n' "first page, limit=50, email_prefix=user9999 (rare)" \
        "$(five '/admin/users?limit=50&email_prefix=user9999')"
    printf '%-58s %s\n' "exact total, count=exact&limit=1" "$(five '/admin/users?limit=1&count=exact')"
    printf '%-58s %s\n' "exact total, has_second_factor=true" \
        "$(five '/admin/users?limit=1&count=exact&has_second_factor=true')"
    printf '%-58s %s\n' "exact total, email_prefix=user1" \
        "$(five '/admin/users?limit=1&count=exact&email_prefix=user1')"
    # A walk over every page by its cursor: each page's time, and that no
    # user is listed twice or missed.
    local cursor= pages=0 listed=0 times="${work}/walk"
    : >"${times}"
    while :; do
        printf '%s\n' "$(get_ms "/admin/users?limit=200${cursor:+&cursor=${cursor}}")" >>"${times}"
        pages=$((pages + 1))
        listed=$((listed + $(jq '.users | length' "${work}/body")))
        jq -r '.users[].id' "${work}/body" >>"${work}/ids"
        [[ $(jq -r '.has_more' "${work}/body") == true ]] || break
        cursor=$(jq -r '.next_cursor' "${work}/body")
    done
    local distinct
    distinct=$(sort -u "${work}/ids" | wc -l)
    rm -f "${work}/ids"
    sort -n "${times}" | awk -v pages="${pages}" -v listed="${listed}" -v distinct="${distinct}" \
        '{ t[NR] = $1; sum += $1 } END {
            p99 = int(NR * 0.99) + 1; if (p99 > NR) p99 = NR;
            printf "%-58s median %7.1f ms  p99 %7.1f ms  max %7.1f ms\n", "walk, limit=200, every page", t[int(NR / 2) + 1], t[p99], t[NR];
            printf "%-58s %d pages, %d users listed, %d distinct, %.1f s in all\n", "", pages, listed, distinct, sum / 1000 }'
    kill "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    server_pid=
}

if [[ ${store} == sqlite || ${store} == both ]]; then
    database_url=
    run sqlite
    rm -rf "${work}/data"
fi
if [[ ${store} == postgres || ${store} == both ]]; then
    pg_db=authd_figures_$$
    psql -q "${pg_admin}" -c "CREATE DATABASE ${pg_db}" >/dev/null
    database_url=${pg_admin%/*}/${pg_db}
    run postgres
fi
