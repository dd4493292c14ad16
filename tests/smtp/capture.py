#!/usr/bin/env python3
"""A capturing SMTP server for authd's integration tests (tests/api/mail*.rs).

It offers STARTTLS and refuses mail before it (or speaks TLS from the first
byte with --implicit), optionally requires AUTH as one user, and writes each
message it accepts to OUT as NAME.eml (the bytes received) beside NAME.json
(the envelope, whether TLS was on, who authenticated). It prints
"ready PORT" once listening, and exits when its standard input closes, so a
test that dies takes its server with it.

Needs Debian's python3-aiosmtpd. Usage:
  capture.py --out DIR --cert CERT --key KEY [--port N] [--user U --password P] [--implicit]
"""

import argparse
import asyncio
import json
import os
import ssl
import sys
import threading
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd warns about its own deprecated Session.login_data on every AUTH.
warnings.simplefilter("ignore", DeprecationWarning)


class Capture:
    def __init__(self, out, user):
        self.out = out
        self.user = user
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = f"{os.getpid()}-{self.count:06d}"
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "auth": self.user if session.authenticated else None,
        }
        self._write(name + ".json", json.dumps(meta).encode())
        self._write(name + ".eml", envelope.original_content)
        return "250 OK captured"

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
    parser.add_argument("--implicit", action="store_true")
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
        return AuthResult(success=ok, handled=False)

    options = {"hostname": "localhost", "enable_SMTPUTF8": True}
    if args.user:
        options.update(auth_required=True, authenticator=authenticate)
    if not args.implicit:
        options.update(tls_context=context, require_starttls=True)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, **options),
            args.host,
            args.port,
            ssl=context if args.implicit else None,
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
