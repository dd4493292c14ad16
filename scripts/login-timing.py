#!/usr/bin/env python3
"""Compares the time of a login with a wrong password and with an unknown email,
against a running authd (default http://127.0.0.1:8080), and times sequential
refresh rotations. Prints medians and the ratio of the two failure kinds; the
two must be close, or the time would tell an attacker which emails exist.

    scripts/login-timing.py [BASE_URL] [ROUNDS]

Every login hashes, and the rounds come from one address: start authd with the
per-client hashing limit raised (AUTHD__LIMITS__HASH_PER_IP=1000000), or the
rounds past `limits.hash_per_ip` (60 a minute) time a 429.
"""
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
assert base.startswith("http://127.") or base.startswith("http://localhost"), "loopback only"


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
    return status, (json.loads(data) if data else None), time.perf_counter() - start


email = f"timing-{uuid.uuid4().hex}@example.com"
password = "correct horse battery staple"
assert post("/auth/register", {"email": email, "password": password})[0] == 201

samples = {"wrong password": [], "unknown email": [], "correct password": []}
for i in range(rounds):  # interleaved, so machine noise hits all kinds alike
    samples["wrong password"].append(post("/auth/login", {"email": email, "password": "wrong guess 12345"})[2])
    samples["unknown email"].append(post("/auth/login", {"email": f"nobody-{i}@example.com", "password": "wrong guess 12345"})[2])
    samples["correct password"].append(post("/auth/login", {"email": email, "password": password, "token_delivery": "body"})[2])

medians = {k: statistics.median(v) * 1000 for k, v in samples.items()}
for kind, ms in medians.items():
    print(f"login, {kind:16}: median {ms:7.2f} ms over {rounds}")
print(f"unknown email / wrong password: {medians['unknown email'] / medians['wrong password']:.3f}")

_, tokens, _ = post("/auth/login", {"email": email, "password": password, "token_delivery": "body"})
refresh = tokens["refresh_token"]
times = []
for _ in range(rounds * 10):
    status, body, t = post("/auth/refresh", {"refresh_token": refresh})
    assert status == 200, body
    refresh = body["refresh_token"]
    times.append(t)
times.sort()
print(f"refresh, one client in sequence: median {statistics.median(times) * 1000:.2f} ms, "
      f"p99 {times[int(len(times) * 0.99) - 1] * 1000:.2f} ms over {len(times)}; "
      f"login (correct) / refresh: {medians['correct password'] / (statistics.median(times) * 1000):.1f}x")
