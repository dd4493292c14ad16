#!/usr/bin/env python3
"""A capturing SMTP server for authd's integration tests (tests/api/mail*.rs).

--tls says how it speaks:
- starttls (the default): offers STARTTLS and refuses AUTH and mail before it;
- implicit: TLS from the first byte (port 465 style);
- none: no TLS at all, STARTTLS not offered, AUTH and mail accepted in
  plaintext (a server a client must refuse to send to when it requires TLS:
  whatever reaches it shows up in OUT).

It optionally requires AUTH as one user, and writes each message it accepts
to OUT as NAME.eml (the bytes received) beside NAME.json (the envelope,
whether TLS was on, who authenticated). A recipient whose local part begins
with "refused" is refused at RCPT with "550 5.1.1 <address>: ...", the
address in the text as many servers write it. Every AUTH attempt, right or wrong,
adds a line to OUT/auth.jsonl saying whether it came over TLS. It prints
"ready PORT" once listening, and exits when its standard input closes, so a
test that dies takes its server with it.

Needs Debian's python3-aiosmtpd. Usage:
  capture.py --out DIR --cert CERT --key KEY [--port N] [--user U --password P]
             [--tls starttls|implicit|none]
"""

import argparse
import asyncio
import json
import logging
import os
import ssl
import sys
import threading
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, TLSSetupException

# aiosmtpd warns about its own deprecated Session.login_data on every AUTH.
warnings.simplefilter("ignore", DeprecationWarning)
# Nor its warnings that AUTH is allowed without STARTTLS (--tls implicit/none):
# implicit TLS is TLS, and plaintext is what --tls none is for.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").setLevel(logging.ERROR)


class OneLineForTls(logging.Filter):
    """A client that refuses the certificate is what some tests make happen:
    one line for it instead of aiosmtpd's traceback."""

    def filter(self, record):
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (TLSSetupException, ssl.SSLError)):
            print("capture.py: a TLS handshake failed", file=sys.stderr, flush=True)
            return False
        return True


logging.getLogger("mail.log").addFilter(OneLineForTls())


def on_tls(server):
    """Whether this connection is encrypted now: after STARTTLS, or from the
    first byte (aiosmtpd's session.ssl covers only the former)."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class Capture:
    def __init__(self, out, user):
        self.out = out
        self.user = user
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("refused"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = f"{os.getpid()}-{self.count:06d}"
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": on_tls(server),
            "auth": self.user if session.authenticated else None,
        }
        self._write(name + ".json", json.dumps(meta).encode())
        self._write(name + ".eml", envelope.original_content)
        return "250 OK captured"

    def log_auth(self, server, ok):
        line = json.dumps({"tls": on_tls(server), "ok": ok}) + "\n"
        with open(os.path.join(self.out, "auth.jsonl"), "a") as f:
            f.write(line)

    def _write(self, name, data):
        temp = os.path.join(self.out, "." + name + ".tmp")
        with open(temp, "wb") as f:
            f.write(data)
        os.rename(temp, os.path.join(self.out, name))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--tls", choices=["starttls", "implicit", "none"], default="starttls")
    args = parser.parse_args()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    handler = Capture(args.out, args.user)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == args.user
            and auth_data.password.decode() == args.password
        )
        handler.log_auth(server, ok)
        return AuthResult(success=ok, handled=False)

    options = {"hostname": "localhost", "enable_SMTPUTF8": True}
    if args.user:
        # aiosmtpd counts only STARTTLS as TLS: AUTH would not be offered on
        # an implicit-TLS connection, nor (on purpose) on a plaintext one.
        options.update(
            auth_required=True,
            authenticator=authenticate,
            auth_require_tls=args.tls == "starttls",
        )
    if args.tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    implicit = args.tls == "implicit"

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, **options),
            args.host,
            args.port,
            ssl=context if implicit else None,
        )
        port = server.sockets[0].getsockname()[1]
        print(f"ready {port}", flush=True)
        await server.serve_forever()

    def exit_with_parent():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    asyncio.run(serve())


if __name__ == "__main__":
    main()
