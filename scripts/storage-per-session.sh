#!/usr/bin/env bash
# Measures bytes per live session on PostgreSQL (table, TOAST and indexes), and
# that rotations do not grow the table once vacuum has run.
#
#   scripts/storage-per-session.sh [ADMIN_URL] [SESSIONS]
#
# ADMIN_URL: a database where this script may create and drop a scratch database
# (default postgres://postgres@127.0.0.1:5432/postgres). SESSIONS: default 100000.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

admin=${1:-postgres://postgres@127.0.0.1:5432/postgres}
n=${2:-100000}
db="authd_storage_$$"
url="${admin%/*}/${db}"

psql -X -q "${admin}" -c "CREATE DATABASE ${db}"
trap 'psql -X -q "${admin}" -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)"' EXIT
# The schema as authd migrates it: every migration, in order.
for migration in migrations/postgres/*.sql; do
  psql -X -q -v ON_ERROR_STOP=1 "${url}" -f "${migration}"
done

# Sessions shaped like real ones: a browser user agent, an IPv6 address, 10 users
# per 1,000 sessions.
psql -X -q "${url}" <<SQL
INSERT INTO users (id, email, password_hash, created_at, updated_at)
SELECT gen_random_uuid(), 'user' || i || '@example.com',
       '\$argon2id\$v=19\$m=19456,t=2,p=1\$c29tZXNhbHRzb21lc2FsdA\$' || md5(i::text) || md5(i::text),
       now(), now()
FROM generate_series(1, ${n} / 100) AS i;
INSERT INTO sessions (id, user_id, counter, created_at, last_rotated_at, expires_at,
                      absolute_expires_at, user_agent, ip)
SELECT gen_random_uuid(), u.id, 0, now(), now(), now() + interval '7 days',
       now() + interval '30 days',
       'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
       '2001:db8:85a3::8a2e:370:7334'
FROM generate_series(1, ${n}) AS i
JOIN LATERAL (SELECT id FROM users OFFSET (i % (${n} / 100)) LIMIT 1) u ON true;
VACUUM ANALYZE;
SQL

size() { psql -X -Atq "${url}" -c "SELECT pg_total_relation_size('sessions')"; }
before=$(size)
echo "sessions: ${n}"
echo "bytes per live session (table + indexes): $(( before / n ))"

# Rotations of every session at once (the worst case: every row has an old
# version at the same moment), as the rotation statement does them, each round
# followed by the autovacuum that production runs.
rotate() {
  psql -X -q "${url}" -c "UPDATE sessions SET counter = counter + 1, last_rotated_at = now(), expires_at = now() + interval '7 days'"
  psql -X -q "${url}" -c "VACUUM sessions"
}
rotate
one=$(size)
echo "after 1 rotation of every session: $(( one / n )) bytes per session"
for _ in $(seq 2 10); do rotate; done
ten=$(size)
echo "after 10 rotations of every session: $(( ten / n )) bytes per session (space of old row versions is reused, not added)"
