#!/usr/bin/python3
"""A controllable SMTP server on loopback for tests and scripts/run-local.

Each accepted message is written as <folder>/<n>.eml (the bytes as received) and
<folder>/<n>.json: the connection (peer, tls), the envelope (mail_from, mail_options,
rcpt_tos) and the message as
Python's email package reads it (each header decoded, each body part decoded), so a
test checks the result with an independent MIME parser.

  smtp_sink.py --folder DIR [--port N] [--ready-file F] [--smtputf8 on|off]
               [--reject REGEX] [--tempfail REGEX] [--tempfail-times N]
               [--starttls-cert PEM --starttls-key PEM] [--data-delay-ms N]

--reject: RCPT of a matching address gets 550; --tempfail: 451 for the first N RCPTs of
a matching address, then 250. The port actually bound is written to --ready-file once the
server listens (port 0 picks a free one). Runs until SIGTERM or SIGINT. Uses Debian's
python3-aiosmtpd: run it with /usr/bin/python3.
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

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.tempfails = {}
        self.reject = re.compile(args.reject) if args.reject else None
        self.tempfail = re.compile(args.tempfail) if args.tempfail else None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
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
            "tls": session.ssl is not None,
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
    p.add_argument("--smtputf8", choices=["on", "off"], default="on")
    p.add_argument("--reject")
    p.add_argument("--tempfail")
    p.add_argument("--tempfail-times", type=int, default=1)
    p.add_argument("--starttls-cert")
    p.add_argument("--starttls-key")
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

    def factory():
        return SMTP(sink, enable_SMTPUTF8=(args.smtputf8 == "on"), tls_context=tls,
                    require_starttls=False, decode_data=False, hostname="sink.localhost")

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(factory, sock=sock))
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
