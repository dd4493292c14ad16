"""Verifies one webhook delivery with the Standard Webhooks reference library
(`standardwebhooks`), which authd does not own: reads JSON from stdin,
{"secret": "whsec_...", "headers": {...}, "body": "..."}, and exits 0
printing the parsed body when the library accepts the signature."""
import json
import sys

from standardwebhooks.webhooks import Webhook

given = json.load(sys.stdin)
print(json.dumps(Webhook(given["secret"]).verify(given["body"], given["headers"])))
