#!/usr/bin/env python3
"""Compares the time of POST /auth/register for a new address and for one that
already has an account, against an authd running with enumeration-safe
registration on loopback (default http://127.0.0.1:8080). Both must answer 202
with the same body, and take about as long, or the time would tell an attacker
which addresses have accounts. Prints the medians and their ratio.

    scripts/register-timing.py [BASE_URL] [ROUNDS]

Start the server for it with the safe mode on (which needs required
verification) and the per-client limits raised: every round registers from
the same address, and the per-client send limit counts each registration.

    AUTHD__ACCOUNTS__ENUMERATION_SAFE_REGISTRATION=true \\
    AUTHD__ACCOUNTS__EMAIL_VERIFICATION=required \\
    AUTHD__LIMITS__REGISTER_PER_IP=1000000 \\
    AUTHD__LIMITS__HASH_PER_IP=1000000 \\
    AUTHD__EMAIL__PER_IP_LIMIT=1000000 \\
    AUTHD__DATA_DIR=$(mktemp -d) AUTHD__SERVER__PORT=8080 authd serve

Each existing address is registered once before the timed rounds and once in
them, so its owner's `registration_attempt` budget
(`email.per_recipient_limit`, 5) holds at its default. Messages go to data_dir/mail unless SMTP is configured.
"""
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
assert base.startswith("http://127.") or base.startswith("http://localhost"), "loopback only"

password = "correct horse battery staple"


def register(email):
    body = json.dumps({"email": email, "password": password}).encode()
    req = urllib.request.Request(base + "/auth/register", body,
                                 {"content-type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req) as r:
            status, data = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, data = e.code, e.read()
    return status, data, time.perf_counter() - start


run = uuid.uuid4().hex[:12]
existing = [f"taken-{run}-{i}@example.com" for i in range(rounds)]
for email in existing:
    status, data, _ = register(email)
    assert status == 202, f"is the safe mode on? {status} {data!r}"

samples = {"new address": [], "existing address": []}
answers = set()
for i in range(rounds):  # interleaved, so machine noise hits both kinds alike
    for kind, email in (("new address", f"new-{run}-{i}@example.com"),
                        ("existing address", existing[i])):
        status, data, t = register(email)
        assert status == 202, f"{kind}: {status} {data!r}"
        answers.add(data)
        samples[kind].append(t)

assert len(answers) == 1, f"the answers differ: {answers}"
medians = {k: statistics.median(v) * 1000 for k, v in samples.items()}
for kind, ms in medians.items():
    print(f"register, {kind:16}: median {ms:8.2f} ms over {rounds}")
print(f"existing / new: {medians['existing address'] / medians['new address']:.3f}")
