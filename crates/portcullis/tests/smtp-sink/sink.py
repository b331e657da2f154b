"""A real SMTP server for the integration tests (aiosmtpd).

Listens on 127.0.0.1 on a free port, prints the port on the first line of stdout, and writes
each delivered message to DIR as NNNNN.json: the envelope, the headers the tests read
(decoded), and the text and HTML parts (decoded). With --user/--password it offers AUTH
(PLAIN and LOGIN, without TLS) and accepts only that pair. It exits when stdin closes.
"""

import argparse
import asyncio
import email
import email.header
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP, AuthResult


class Handler:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            ctype = part.get_content_type()
            if ctype in ("text/plain", "text/html") and ctype not in parts:
                parts[ctype] = part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth": session.authenticated,
            "headers": {k: str(msg[k]) for k in ("From", "To", "Reply-To", "Subject", "Content-Type") if msg[k] is not None},
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
        }
        path = os.path.join(self.directory, f"{self.count:05d}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)
    return check


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("directory")
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()
    handler = Handler(a.directory)
    loop = asyncio.get_running_loop()

    def factory():
        kwargs = {}
        if a.user is not None:
            kwargs = {"authenticator": authenticator(a.user, a.password),
                      "auth_require_tls": False, "auth_required": True}
        return SMTP(handler, hostname="sink.test", **kwargs)

    server = await loop.create_server(factory, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    # Stop when the test harness goes away (stdin closes).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
