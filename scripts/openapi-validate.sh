#!/usr/bin/env bash
# Validates an OpenAPI document with Python's openapi-spec-validator (PyPI): a
# second validator, independent of the `oas3` model the Rust tests use.
#
#   scripts/openapi-validate.sh FILE
#
# CI passes the document the api tests fetched from a running server
# (AUTHD_OPENAPI_OUT). The validator is installed once into a virtualenv.
set -euo pipefail

file=${1:?usage: scripts/openapi-validate.sh FILE}
if [[ ! -s ${file} ]]; then
    echo "openapi: ${file} is missing or empty: did the api tests run with AUTHD_OPENAPI_OUT set?" >&2
    exit 1
fi

venv=${AUTHD_OPENAPI_VENV:-${TMPDIR:-/tmp}/authd-openapi-venv}
if [[ ! -x ${venv}/bin/openapi-spec-validator ]]; then
    if ! python3 -m venv "${venv}"; then
        # Debian ships the venv module separately.
        echo "openapi: installing python3-venv"
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
        python3 -m venv "${venv}"
    fi
    "${venv}/bin/pip" install --quiet --disable-pip-version-check openapi-spec-validator==0.9.0
fi
"${venv}/bin/openapi-spec-validator" "${file}"
