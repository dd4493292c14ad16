#!/usr/bin/env bash
# Installs the stock verifiers the api tests hand authd's output to: pyoidc
# (`oic`, a relying-party library) for back-channel logout tokens, and the
# Standard Webhooks reference library for webhook signatures, into a
# virtualenv (PyPI, versions pinned in tests/stock/requirements.txt). Prints
# the virtualenv's python, which the tests read from AUTHD_STOCK_PYTHON:
#
#   export AUTHD_STOCK_PYTHON=$(scripts/stock-venv.sh)
#
# Without AUTHD_STOCK_PYTHON those checks are skipped with a note on stderr,
# unless AUTHD_REQUIRE_STOCK=1 (CI), which makes them fail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=${AUTHD_STOCK_VENV:-${TMPDIR:-/tmp}/authd-stock-venv}
stamp=${venv}/.requirements
if ! cmp -s tests/stock/requirements.txt "${stamp}"; then
    if ! python3 -m venv "${venv}" >&2; then
        # Debian ships the venv module separately.
        echo "stock: installing python3-venv" >&2
        apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv >&2
        python3 -m venv "${venv}" >&2
    fi
    "${venv}/bin/pip" install --quiet --disable-pip-version-check -r tests/stock/requirements.txt >&2
    cp tests/stock/requirements.txt "${stamp}"
fi
echo "${venv}/bin/python"
