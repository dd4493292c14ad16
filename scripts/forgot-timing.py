#!/usr/bin/env python3
"""Compares the time of POST /auth/password/forgot for addresses with an account
and without one, against a running authd on the loopback interface (default
http://127.0.0.1:8080). Registers ACCOUNTS accounts, then sends ROUNDS requests
for known addresses and as many for unknown ones, shuffled, one at a time with
a 20 ms pause, and prints the medians and the known / unknown ratio. The two
must be close: the lookup, the token and the message run after the answer, so
the answer's time must not tell which addresses exist.

    scripts/forgot-timing.py [BASE_URL] [ROUNDS] [ACCOUNTS]

The per-client send limit would stop the run (429), and the per-recipient
budgets would drop most messages, so start the server with them raised, and
the registration limit too, e.g.:

    AUTHD__EMAIL__PER_IP_LIMIT=100000 AUTHD__EMAIL__PER_RECIPIENT_LIMIT=100000 \\
    AUTHD__EMAIL__PER_RECIPIENT_TOTAL_LIMIT=100000 \\
    AUTHD__LIMITS__REGISTER_PER_IP=100000 target/release/authd serve

(`email.per_ip_limit`, `email.per_recipient_limit`,
`email.per_recipient_total_limit`, `limits.register_per_ip`).
Each request for a known address mails its account: with no SMTP configured the
messages are .eml files under data_dir/mail, so point data_dir at a temporary
directory (AUTHD__DATA_DIR).
"""
import json
import random
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 200
accounts = int(sys.argv[3]) if len(sys.argv) > 3 else 20
assert base.startswith("http://127.") or base.startswith("http://localhost"), "loopback only"
# Between requests, so that the work one left behind (the background task, the
# sender) is not charged to the next one.
PAUSE = 0.02


def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(),
                                 {"content-type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req) as r:
            data = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        data = e.read()
        status = e.code
    return status, data, time.perf_counter() - start


run = uuid.uuid4().hex[:8]
known = [f"forgot-{run}-{i}@example.com" for i in range(accounts)]
# As many unknown addresses, each asked for as often as a known one: the send
# counter of an address is then new or existing alike for both kinds.
unknown = [f"nobody-{run}-{i}@example.com" for i in range(accounts)]
for email in known:
    status, data, _ = post("/auth/register", {"email": email, "password": "correct horse battery staple"})
    assert status == 201, f"register: {status} {data!r} (raise AUTHD__LIMITS__REGISTER_PER_IP)"

samples = {"known": [], "unknown": []}
answers = {"known": set(), "unknown": set()}
# Both kinds in one sequence, shuffled: machine noise hits both alike, and the
# kind of the request before (whose work after the answer may still run, or
# may have left caches warm) is independent of the kind measured.
sequence = [("known", known[i % accounts]) for i in range(rounds)]
sequence += [("unknown", unknown[i % accounts]) for i in range(rounds)]
random.Random(20261202).shuffle(sequence)
for kind, email in sequence:
    status, data, t = post("/auth/password/forgot", {"email": email})
    assert status == 202, f"{kind}: {status} {data!r} (raise AUTHD__EMAIL__PER_IP_LIMIT)"
    answers[kind].add(data)
    samples[kind].append(t)
    time.sleep(PAUSE)

assert answers["known"] == answers["unknown"], answers
medians = {k: statistics.median(v) * 1000 for k, v in samples.items()}
for kind, ms in medians.items():
    ordered = sorted(samples[kind])
    p90 = ordered[int(len(ordered) * 0.9) - 1] * 1000
    print(f"forgot, {kind:7} address: median {ms:6.2f} ms, p90 {p90:6.2f} ms over {rounds}")
print(f"known / unknown: {medians['known'] / medians['unknown']:.3f}")
