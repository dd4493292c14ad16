#!/usr/bin/env bash
# Verifies a webhook delivery captured by the api tests with the official
# Standard Webhooks Python library (PyPI `standardwebhooks`): a second,
# independent check of authd's signatures beside the tests' own HMAC.
#
#   scripts/webhooks-verify.sh FILE
#
# CI passes the delivery the test
# events::an_event_is_signed_with_the_endpoints_secret_and_holds_ids_only
# wrote (AUTHD_WEBHOOK_OUT): {"secret", "headers", "body"}. The library is
# installed once into a virtualenv.
set -euo pipefail

file=${1:?usage: scripts/webhooks-verify.sh FILE}
if [[ ! -s ${file} ]]; then
    echo "webhooks: ${file} is missing or empty: did the api tests run with AUTHD_WEBHOOK_OUT set?" >&2
    exit 1
fi

venv=${AUTHD_WEBHOOKS_VENV:-${TMPDIR:-/tmp}/authd-webhooks-venv}
if [[ ! -x ${venv}/bin/python ]] || ! "${venv}/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
    if ! python3 -m venv "${venv}"; then
        # Debian ships the venv module separately.
        echo "webhooks: installing python3-venv"
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
        python3 -m venv "${venv}"
    fi
    "${venv}/bin/pip" install --quiet --disable-pip-version-check standardwebhooks==1.3.0
fi
"${venv}/bin/python" - "${file}" <<'PY'
import json, sys, time
from datetime import datetime, timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

captured = json.load(open(sys.argv[1]))
wh = Webhook(captured["secret"])
headers, body = captured["headers"], captured["body"]
ts = int(headers["webhook-timestamp"])
if abs(time.time() - ts) < 300:
    # Fresh: the library's whole check, timestamp tolerance included.
    wh.verify(body, headers)
else:
    # Captured earlier in the run: the library's signature for its own timestamp.
    expected = wh.sign(headers["webhook-id"], datetime.fromtimestamp(ts, tz=timezone.utc), body)
    if expected not in headers["webhook-signature"].split(" "):
        raise WebhookVerificationError("No matching signature found")
# And a wrong secret fails.
try:
    Webhook("whsec_" + "A" * 43 + "=").verify(body, {**headers, "webhook-timestamp": str(int(time.time()))})
except WebhookVerificationError:
    pass
else:
    sys.exit("webhooks: a wrong secret verified")
print("webhooks: the captured delivery verifies with standardwebhooks")
PY
