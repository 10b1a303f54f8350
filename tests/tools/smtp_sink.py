#!/usr/bin/python3
"""A controllable SMTP server on loopback for tests and scripts/run-local.

Each accepted message is written as <folder>/<n>.eml (the bytes as received; n goes on after
the highest number already in the folder) and
<folder>/<n>.json: the connection (peer, tls), the envelope (mail_from, mail_options,
rcpt_tos) and the message as
Python's email package reads it (each header decoded, each body part decoded), so a
test checks the result with an independent MIME parser.

  smtp_sink.py --folder DIR [--port N] [--ready-file F] [--smtputf8 on|off|lenient]
               [--reject REGEX] [--tempfail REGEX] [--tempfail-times N]
               [--starttls-cert PEM --starttls-key PEM [--implicit-tls]]
               [--auth USER:PASSWORD [--auth-mechanisms PLAIN,LOGIN]] [--data-delay-ms N]

--reject: RCPT of a matching address gets 550; --tempfail: 451 for the first N RCPTs of
a matching address, then 250. The port actually bound is written to --ready-file once the
server listens (port 0 picks a free one). Runs until SIGTERM or SIGINT. Uses Debian's
python3-aiosmtpd: run it with /usr/bin/python3.

--smtputf8 lenient: EHLO does not offer SMTPUTF8, yet UTF-8 commands are taken (a server
that would accept a non-ASCII recipient it never said it supports). --implicit-tls: the
certificate wraps the socket from the first byte (smtps://) instead of STARTTLS. --auth:
every MAIL needs AUTH with these credentials (535 otherwise), offered in cleartext too (the
test is on loopback); --auth-mechanisms limits what EHLO offers. The record's "auth" holds
the mechanism and user of the session's successful AUTH, or null.
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import re
import signal
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult


def highest_number(folder):
    numbers = [int(name[:-4]) for name in os.listdir(folder)
               if name.endswith(".eml") and name[:-4].isdigit()]
    return max(numbers, default=0)


class Sink:
    def __init__(self, args):
        self.args = args
        # Numbering goes on after what the folder holds, so a restart overwrites no mail.
        self.count = highest_number(args.folder)
        self.tempfails = {}
        self.reject = re.compile(args.reject) if args.reject else None
        self.tempfail = re.compile(args.tempfail) if args.tempfail else None
        self.rcpts = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.args.smtputf8 == "lenient":
            responses = [r for r in responses if r != "250-SMTPUTF8"]
        return responses

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        user, _, password = self.args.auth.partition(":")
        login = auth_data.login.decode("utf-8", "replace")
        ok = login == user and auth_data.password.decode("utf-8", "replace") == password
        return AuthResult(success=ok, handled=False,
                          auth_data={"mechanism": mechanism, "user": login} if ok else None)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpts += 1
        write_atomic(os.path.join(self.args.folder, "rcpt-count"), b"%d" % self.rcpts)
        if self.reject and self.reject.search(address):
            return "550 5.1.1 <%s>: mailbox unavailable (sink rejects it)" % address
        if self.tempfail and self.tempfail.search(address):
            seen = self.tempfails.get(address, 0)
            if seen < self.args.tempfail_times:
                self.tempfails[address] = seen + 1
                return "451 4.3.0 <%s>: try again later (sink)" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.data_delay_ms:
            await asyncio.sleep(self.args.data_delay_ms / 1000.0)
        self.count += 1
        base = os.path.join(self.args.folder, "%d" % self.count)
        raw = envelope.original_content or envelope.content
        record = {
            "peer": list(session.peer),  # the client's address and port: one per connection
            "tls": (session.ssl is not None or
                    server.transport.get_extra_info("ssl_object") is not None),
            "auth": session.auth_data,
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "message": describe(raw),
        }
        # The .json first: a reader that sees the .eml finds both.
        write_atomic(base + ".json", json.dumps(record, ensure_ascii=False).encode())
        write_atomic(base + ".eml", raw)
        return "250 2.0.0 OK queued as %d" % self.count


def describe(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        parts.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "transfer_encoding": part.get("Content-Transfer-Encoding", ""),
            "content": part.get_content(),
        })
    return {
        "headers": [[k, str(v)] for k, v in msg.items()],
        "content_type": msg.get_content_type(),
        "parts": parts,
        "defects": [str(d) for d in msg.defects],
    }


def write_atomic(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--folder", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ready-file")
    p.add_argument("--smtputf8", choices=["on", "off", "lenient"], default="on")
    p.add_argument("--reject")
    p.add_argument("--tempfail")
    p.add_argument("--tempfail-times", type=int, default=1)
    p.add_argument("--starttls-cert")
    p.add_argument("--starttls-key")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--auth")
    p.add_argument("--auth-mechanisms", default="PLAIN,LOGIN")
    p.add_argument("--data-delay-ms", type=int, default=0)
    args = p.parse_args()
    os.makedirs(args.folder, exist_ok=True)

    tls = None
    if args.starttls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.starttls_cert, args.starttls_key)

    sink = Sink(args)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(16)

    auth = {}
    if args.auth:
        offered = set(args.auth_mechanisms.split(","))
        auth = {"authenticator": sink.authenticate, "auth_required": True,
                "auth_require_tls": False,
                "auth_exclude_mechanism": {"PLAIN", "LOGIN"} - offered}

    def factory():
        return SMTP(sink, enable_SMTPUTF8=(args.smtputf8 != "off"),
                    tls_context=None if args.implicit_tls else tls, require_starttls=False,
                    decode_data=False, hostname="sink.localhost", **auth)

    loop = asyncio.new_event_loop()
    listener = tls if args.implicit_tls else None
    server = loop.run_until_complete(loop.create_server(factory, sock=sock, ssl=listener))
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    if args.ready_file:
        write_atomic(args.ready_file, str(sock.getsockname()[1]).encode())
    print("smtp sink listening on 127.0.0.1:%d, mail in %s" % (sock.getsockname()[1],
                                                               args.folder), flush=True)
    loop.run_until_complete(stop.wait())
    server.close()
    loop.run_until_complete(server.wait_closed())
    return 0


if __name__ == "__main__":
    sys.exit(main())
