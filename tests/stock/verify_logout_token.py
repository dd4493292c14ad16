"""Verifies an OpenID Connect back-channel logout request with pyoidc (`oic`),
a relying-party library authd does not own: reads JSON from stdin,
{"jwks": {...}, "logout_token": "...", "iss": "...", "aud": "...",
"skew": seconds}, and
exits 0 printing the token's claims when the library accepts it."""
import json
import sys

from oic.oic.message import BackChannelLogoutRequest
from oic.utils.keyio import KeyJar

given = json.load(sys.stdin)
keys = KeyJar()
keys.import_jwks(given["jwks"], "")
request = BackChannelLogoutRequest(logout_token=given["logout_token"])
request.verify(keyjar=keys, iss=given["iss"], aud=given["aud"], skew=given.get("skew", 0))
print(json.dumps(request["logout_token"].to_dict()))
