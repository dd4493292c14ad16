#!/usr/bin/env bash
# Fuzzes authd against its own OpenAPI document with Schemathesis (PyPI):
# requests generated from the schemas, every conformance check on, so that a
# request valid by the document must not be refused and every answer must be
# documented (status, headers, body, Allow on 405).
#
#   scripts/schemathesis.sh [--seed N] [--examples N] [--bin PATH]
#
# CI runs it with a fixed seed and a small --examples; a longer run is
# `scripts/schemathesis.sh --seed $RANDOM --examples 200`. It builds authd
# (debug) unless --bin names a binary, starts it on 127.0.0.1 with SQLite in a
# temporary directory, registers one user (the Bearer token comes from logging
# in as it) and one client (HTTP Basic), and exits non-zero on any failure.
#
# The server is configured for the run, never weaker in what it checks:
# - the login, registration, hashing and code-try limits are raised, since the run sends
#   thousands of requests from one address and fuzzes /auth/password with wrong
#   current passwords, which count towards the account's lockout (the limits
#   have their own tests in tests/api/lockout.rs and limits.rs); so are the
#   mail send limits, which /auth/password/forgot counts against (tested in
#   tests/api/password_reset.rs); so is the admin API's per-client limit (tested in
#   tests/api/admin.rs);
# - Argon2id is cheap, so a debug build hashes quickly;
# - password.min_strength is 0: how guessable a password is cannot be said in
#   a schema (the `weak_password` answer is documented, and tested elsewhere);
# - sign-in with a one-time code is switched on, so /auth/otp/* are fuzzed past
#   their 404 `not_enabled`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seed=1
examples=25
bin=
while [[ $# -gt 0 ]]; do
    case $1 in
    --seed) seed=$2; shift 2 ;;
    --examples) examples=$2; shift 2 ;;
    --bin) bin=$(realpath "$2"); shift 2 ;;
    *) echo "usage: scripts/schemathesis.sh [--seed N] [--examples N] [--bin PATH]" >&2; exit 2 ;;
    esac
done

venv=${AUTHD_SCHEMATHESIS_VENV:-${TMPDIR:-/tmp}/authd-schemathesis-venv}
if [[ ! -x ${venv}/bin/st ]]; then
    if ! python3 -m venv "${venv}"; then
        echo "schemathesis: installing python3-venv"
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
        python3 -m venv "${venv}"
    fi
    "${venv}/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi

if [[ -z ${bin} ]]; then
    cargo build --quiet --bin authd
    bin=${PWD}/target/debug/authd
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n ${server_pid} ]]; then kill "${server_pid}" 2>/dev/null || true; fi
    rm -rf "${work}"
}
trap cleanup EXIT

port=18300
while (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; do
    port=$((port + 1))
done
base=http://127.0.0.1:${port}

# The environment of every authd command below: this run's data directory and
# settings, none of the caller's configuration files.
# The run's user holds a role (`owner`) opening a permission its client
# lacks, so that no admin endpoint the client reaches may disable, erase, log
# out or re-address it (the rule against escalation) and end the run's
# sign-ins halfway.
cat >"${work}/authd.toml" <<'EOF'
[admin.roles]
owner = ["authd:admin:webhooks"]
EOF

authd() {
    env -u AUTHD_ENV_FILE \
        AUTHD_CONFIG="${work}/authd.toml" \
        AUTHD__DATA_DIR="${work}/data" \
        AUTHD__SERVER__PORT="${port}" \
        AUTHD__SERVER__ISSUER="${base}" \
        AUTHD__LOG__LEVEL=warn \
        AUTHD__PASSWORD__MIN_STRENGTH=0 \
        AUTHD__PASSWORD__ARGON2_M_COST=64 \
        AUTHD__PASSWORD__ARGON2_T_COST=1 \
        AUTHD__LIMITS__LOGIN_ACCOUNT_FAILURES=1000000 \
        AUTHD__LIMITS__LOGIN_ACCOUNT_WIDE_FAILURES=1000000 \
        AUTHD__LIMITS__HASH_PER_IP=1000000 \
        AUTHD__LIMITS__CODE_PER_IP=1000000 \
        AUTHD__LIMITS__CODE_TRIES_PER_DAY=1000000 \
        AUTHD__LIMITS__LOGIN_IP_FAILURES=1000000 \
        AUTHD__LIMITS__REGISTER_PER_IP=1000000 \
        AUTHD__LIMITS__REFRESH_PER_IP=1000000 \
        AUTHD__LIMITS__ADMIN_PER_CLIENT=1000000 \
        AUTHD__EMAIL__PER_IP_LIMIT=1000000 \
        AUTHD__EMAIL__PER_RECIPIENT_LIMIT=1000000 \
        AUTHD__EMAIL__PER_RECIPIENT_TOTAL_LIMIT=1000000 \
        AUTHD__ACCOUNTS__OTP_ENABLED=true \
        "${bin}" "$@"
}

authd serve >"${work}/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 60); do
    curl -fsS "${base}/healthz" >/dev/null 2>&1 && break
    kill -0 "${server_pid}" 2>/dev/null || { cat "${work}/server.log" >&2; exit 1; }
    sleep 1
done
curl -fsS "${base}/healthz" >/dev/null

# The user the Bearer token belongs to, and the client for HTTP Basic. Neither
# secret is printed; Schemathesis filters Authorization from its output.
email=schemathesis@example.com
password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
curl -fsS -o /dev/null -X POST "${base}/auth/register" -H 'Content-Type: application/json' \
    -d "{\"email\": \"${email}\", \"password\": \"${password}\"}"
# Every permission, so introspection and the feed (with user ids) are fuzzed
# past their 403.
client=$(authd clients create --name schemathesis \
    --scopes "read write authd:introspect authd:revocations:sub authd:admin:users:read authd:admin:users:write authd:admin:clients")
authd users roles "${email}" --add owner >/dev/null
client_id=$(sed -n 's/^client_id *= *//p' <<<"${client}")
client_secret=$(sed -n 's/^client_secret *= *//p' <<<"${client}")
[[ -n ${client_id} && -n ${client_secret} ]] || { echo "schemathesis: no client created" >&2; exit 1; }

cat >"${work}/schemathesis.toml" <<EOF
# The registration flow Schemathesis would bootstrap is ours to set up.
[auth]
auto-signup = false

[auth.openapi.client_basic]
username = "${client_id}"
password = "${client_secret}"

# Logged in again whenever a fuzzed logout or password change ends the session.
[auth.dynamic.openapi.bearer]
path = "/auth/login"
payload = { email = "${email}", password = "${password}", token_delivery = "body" }
extract_selector = "/access_token"

# RFC 6749 section 5.2: the token endpoint answers 400 for a refresh token
# that is not (or no longer) valid and for a scope the client does not hold,
# which no schema can tell from a valid one.
[[operations]]
include-path = "/oauth/token"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 429]

# An authorization request from a client or to a redirect URI that is not
# registered is an HTML 400 page, never a redirect, and the schema cannot
# tell a registered client_id from another; every other answer is a 303.
[[operations]]
include-path = "/oauth/authorize"
checks.positive_data_acceptance.expected-statuses = [303, 400]

# A pushed request is checked like an authorization request (400 for what
# no schema can tell, such as an unregistered redirect_uri), and this run's
# client is a machine client, which has no users (400 unauthorized_client).
[[operations]]
include-path = "/oauth/par"
checks.positive_data_acceptance.expected-statuses = [201, 400, 401]

# A client's settings must hold together (a confidential client needs a
# redirect URI, a lifetime stays within its bounds, a name is printable),
# which the document states in words only: 400 invalid_request.
[[operations]]
include-path = "/admin/clients"
checks.positive_data_acceptance.expected-statuses = [200, 201, 400, 401, 403, 429]

[[operations]]
include-path = "/admin/clients/{id}"
checks.positive_data_acceptance.expected-statuses = [200, 204, 400, 401, 403, 404, 429]

# A client cannot rotate its own secret here (400): the run's client is the
# only one the generator finds.
[[operations]]
include-path = "/admin/clients/{id}/secret/rotate"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 403, 404, 429]

# An invitation is for an account made without a password: both is a 400.
[[operations]]
include-operation-id = "create_user"
checks.positive_data_acceptance.expected-statuses = [201, 400, 401, 403, 409, 429]

# A user's audit events outlive the user: an erased account's trail stays
# readable (under the pseudonym its user_deleted event names), and the list of
# an id with no account is empty, not a 404, which the stateful phase's
# use-after-free check (a DELETE of the user, then its audit) takes for a
# leak. The operation is still tested in the other phases.
[[operations]]
include-path = "/admin/users/{id}/audit"
checks.use_after_free.enabled = false
phases.stateful.enabled = false

# An emailed link's token or code that is not (or no longer) valid is a 400
# invalid_account_token, which no schema can tell from a valid one.
[[operations]]
include-path = "/auth/password/reset"
checks.positive_data_acceptance.expected-statuses = [200, 204, 400]

[[operations]]
include-path = "/auth/email/verify"
checks.positive_data_acceptance.expected-statuses = [200, 400, 429]

[[operations]]
include-path = "/auth/email/change/confirm"
checks.positive_data_acceptance.expected-statuses = [200, 400, 409, 429]

# Confirming a TOTP factor with a code the device did not show is a 400
# invalid_mfa_code, which no schema can tell from the right code.
[[operations]]
include-path = "/auth/mfa/totp/confirm"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 404, 409, 429]

# A second factor is a code or a recovery_code: both at once is a 400
# invalid_request. The document says so in words; OpenAPI 3.1 could say it with
# a oneOf of two required-field variants, which the generator then fails to
# fill with a valid challenge anyway.
[[operations]]
include-path = "/auth/mfa/verify"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 404, 429]

# Enrolment at sign-in (mfa.required) takes the challenge of a
# mfa_enrollment_required answer: one the generator makes up is a 401
# invalid_mfa_challenge, and a code the device did not show a 400.
[[operations]]
include-path = "/auth/mfa/enroll/totp"
checks.positive_data_acceptance.expected-statuses = [200, 401, 409]

[[operations]]
include-path = "/auth/mfa/enroll/totp/confirm"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 404, 429]

# Passkeys: a WebAuthn credential is an authenticator's signature over a
# challenge, which no schema can make: a well-formed one is refused with
# 400/401 invalid_passkey or invalid_ceremony; and where passkeys are off
# (no [webauthn] relying party for this issuer) every passkey endpoint
# answers 404 not_enabled. A passkey id that is not the user's is a 404.
[[operations]]
include-path = "/auth/passkeys/register/start"
checks.positive_data_acceptance.expected-statuses = [200, 204, 400, 401, 403, 404, 409, 429]

[[operations]]
include-path = "/auth/passkeys/register/finish"
checks.positive_data_acceptance.expected-statuses = [200, 204, 400, 401, 403, 404, 409, 429]

[[operations]]
include-path = "/auth/passkeys"
checks.positive_data_acceptance.expected-statuses = [200, 204, 400, 401, 403, 404, 409, 429]

[[operations]]
include-path = "/auth/passkeys/{id}"
checks.positive_data_acceptance.expected-statuses = [200, 204, 400, 401, 403, 404, 409, 429]

[[operations]]
include-path = "/auth/mfa/passkey"
checks.positive_data_acceptance.expected-statuses = [200, 204, 400, 401, 403, 404, 409, 429]

[[operations]]
include-path = "/auth/passkey/start"
checks.positive_data_acceptance.expected-statuses = [200, 204, 400, 401, 403, 404, 409, 429]

[[operations]]
include-path = "/auth/passkey/finish"
checks.positive_data_acceptance.expected-statuses = [200, 204, 400, 401, 403, 404, 409, 429]
EOF

echo "schemathesis: ${base}, seed ${seed}, ${examples} examples per operation"
# From the temporary directory, where Schemathesis keeps its cache. The two
# form bodies described as plain strings (/oauth/authorize, /oauth/par) leave
# Schemathesis few examples it can send, which its generation health check
# calls filtering too much; it is a check of the generator, not of authd.
cd "${work}"
"${venv}/bin/st" --config-file "${work}/schemathesis.toml" run "${base}/openapi.json" \
    --checks all --seed "${seed}" --max-examples "${examples}" \
    --suppress-health-check=filter_too_much \
    --generation-database none --no-color
