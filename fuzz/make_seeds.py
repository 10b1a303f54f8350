#!/usr/bin/python3
"""Writes the seed corpora of fuzz/corpus/<target>/ from real inputs: the protocol frames of
docs/PROTOCOL.md, events of configs/sample-events.jsonl, the configs of configs/, channel
names and templates of configs/local.yaml. Run it again after changing a seed's source;
regression inputs (files named regression-*) are kept. Needs Debian's python3-msgpack and
python3-jwt (/usr/bin/python3). The RS256 and ES256 seeds need the private keys of the
public ones in fuzz/fuzz_jwt.cpp, which are not kept: without --keys they are skipped."""
import argparse
import base64
import hashlib
import json
import os
import pathlib
import sys

import jwt
import msgpack

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
SECRET = "fuzz-hs256-secret-0123456789abcdef"
NOW = 1900000000


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / name).write_bytes(data)


def sample_events():
    lines = (ROOT / "configs" / "sample-events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def protocol_seeds():
    frames = [
        {"op": "connect", "id": 1, "token": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"},
        {"op": "subscribe", "id": 2, "channel": "user:42:notifications"},
        {"op": "subscribe", "id": "s-1", "channel": "chat:general",
         "since": {"seq": 41, "epoch": "x7Jd"}},
        {"op": "unsubscribe", "id": 3, "channel": "chat:general"},
        {"op": "publish", "id": 4, "channel": "doc:7", "data": {"changes": [{"op": "ins"}]}},
        {"op": "refresh", "id": 5, "token": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"},
        {"op": "presence", "id": 6, "status": "away"},
    ]
    for i, frame in enumerate(frames):
        write("protocol", f"json-{frame['op']}-{i}", "t" + json.dumps(frame))
        write("protocol", f"msgpack-{frame['op']}-{i}", b"b" + msgpack.packb(frame))
    event = sample_events()[0]
    publish = {"op": "publish", "id": 9, "channel": "doc:7", "data": event["data"]}
    write("protocol", "msgpack-publish-event", b"b" + msgpack.packb(publish))
    write("protocol", "json-deep", "t" + "[" * 40 + "]" * 40)
    write("protocol", "msgpack-huge-map-length", b"b\xdf\xff\xff\xff\xff")


def envelope_seeds():
    for i, ev in enumerate(sample_events()[:6]):
        meta = ev["metadata"]
        headers = [
            ("Nats-Msg-Id", ev["id"]), ("ce-specversion", "1.0"), ("ce-id", ev["id"]),
            ("ce-type", ev["type"]), ("ce-source", meta["source"]),
            ("ce-time", meta["timestamp"]), ("ce-subject", ev["aggregateId"]),
            ("ce-aggregatetype", ev["aggregateType"]), ("ce-userid", meta["userId"]),
            ("ce-correlationid", meta["correlationId"]),
        ]
        fmt = "application/msgpack" if i % 2 == 0 else "application/json"
        body = msgpack.packb(ev["data"]) if i % 2 == 0 else json.dumps(ev["data"]).encode()
        text = "".join(f"{n}: {v}\n" for n, v in headers + [("ce-datacontenttype", fmt)])
        write("envelope", f"binary-{ev['type']}-{i}", b"h" + text.encode() + b"\n" + body)
        write("envelope", f"msgpack-data-{i}", b"m" + msgpack.packb(ev["data"]))
        write("envelope", f"json-data-{i}", "j" + json.dumps(ev["data"]))
    ev = sample_events()[1]
    structured = {"specversion": "1.0", "id": ev["id"], "type": ev["type"],
                  "source": "user-service", "subject": ev["aggregateId"],
                  "aggregatetype": ev["aggregateType"], "datacontenttype": "application/json",
                  "data": ev["data"], "tenant": "acme"}
    write("envelope", "structured-mode",
          "hContent-Type: application/cloudevents+json\n\n" + json.dumps(structured))
    write("envelope", "msgpack-nested", b"m" + b"\x91" * 70 + b"\xc0")
    write("envelope", "msgpack-huge-array", b"m\xdd\x7f\xff\xff\xff")
    write("envelope", "msgpack-huge-str", b"m\xdb\xff\xff\xff\xf0abc")
    write("envelope", "percent-utf8", "pAda%20Lovelace%20%E2%9C%93")
    write("envelope", "percent-quoted", 'p"quoted%22value"')
    write("envelope", "base64", "6" + base64.b64encode(b"\x00\x01binary\xff").decode())


def jwt_seeds(keys):
    claims = {"sub": "u-42", "iss": "https://auth.example.com", "aud": "broker-bridge",
              "exp": NOW + 3600, "iat": NOW - 60, "orgs": [7, 8], "channel": "doc:1"}
    write("jwt", "hs256-valid", "t" + jwt.encode(claims, SECRET, "HS256", headers={"kid": "hs"}))
    expired = dict(claims, exp=NOW - 3600)
    write("jwt", "hs256-expired",
          "t" + jwt.encode(expired, SECRET, "HS256", headers={"kid": "hs"}))
    write("jwt", "alg-none", "t" + jwt.encode(claims, None, "none"))
    write("jwt", "signed-claims", "s" + json.dumps({"alg": "HS256", "kid": "hs"}) + "\n" +
          json.dumps(claims))
    write("jwt", "signed-nbf-fraction", "s" + json.dumps({"alg": "HS256", "typ": "JWT"}) +
          "\n" + json.dumps(dict(claims, nbf=NOW + 0.5, exp=1e300)))
    write("jwt", "bad-base64", "teyJhbGciOiJIUzI1NiJ9.!!!.c2ln")
    if keys:
        rsa = (keys / "rsa.pem").read_text()
        ec = (keys / "ec.pem").read_text()
        write("jwt", "rs256-valid", "t" + jwt.encode(claims, rsa, "RS256", headers={"kid": "rs"}))
        write("jwt", "es256-valid", "t" + jwt.encode(claims, ec, "ES256", headers={"kid": "es"}))
        rsa_pub = (keys / "rsa.pub").read_text()
        mac = base64.urlsafe_b64encode
        head = mac(json.dumps({"alg": "HS256", "kid": "rs"}).encode()).rstrip(b"=")
        body = mac(json.dumps(claims).encode()).rstrip(b"=")
        import hmac
        sig = hmac.new(rsa_pub.encode(), head + b"." + body, hashlib.sha256).digest()
        write("jwt", "hs256-with-rsa-public-key",
              b"t" + head + b"." + body + b"." + mac(sig).rstrip(b"="))


def channel_seeds():
    for name in ["user:u-42:notifications", "chat:general", "doc:7", "org:7:presence",
                 "file:ada/report", "chat:a.b", "chat:*", "chat:>", "user::notifications",
                 "chat:\x01", "org:7:presence:x"]:
        write("channel", "resolve-" + hashlib.sha1(name.encode()).hexdigest()[:8], "c" + name)
    for pattern, channel in [("user:{user}:notifications", "user:42:notifications"),
                             ("a{x}b{y}", "abbb"), ("{x}:{y}:{z}", "1:2:3"),
                             ("{x}{y}", "xy"), ("doc:{doc", "doc:1")]:
        write("channel", "pattern-" + hashlib.sha1(pattern.encode()).hexdigest()[:8],
              "t" + pattern + "\n" + channel)
    for rule in ["{user} == sub", "{org} in orgs", "role == \"admin\" and {user} != \"\"",
                 "not ({user} == sub or orgs == null)"]:
        write("channel", "rule-" + hashlib.sha1(rule.encode()).hexdigest()[:8], "r" + rule)


def template_seeds():
    events = sample_events()
    for tmpl, ev in [("rt.chat.{data.chatId}", events[3]),
                     ("rt.user.{data.targetUserId}.notifications", events[1]),
                     ("{data}", events[0]), ("Welcome {data.name} ({subject})", events[0]),
                     ("{data.payload.body} {{literal}}", events[1]),
                     ("rt.doc.{data.items.0.id}", {"data": {"items": [{"id": "d-1"}]}})]:
        write("template", "text-" + hashlib.sha1(tmpl.encode()).hexdigest()[:8],
              "t" + tmpl + "\n" + json.dumps(ev["data"]))
    write("template", "shape-route-data", "j" + json.dumps(
        {"documentId": "{subject}", "changes": "{data.changes}", "by": "{userid}",
         "at": "{time}", "n": 3, "list": ["{data.chatId}", None]}))


def config_seeds():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        write("config", path.name, path.read_bytes())
    write("config", "alias-bomb.yaml",
          "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
          "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n")
    write("config", "duplicate-key.yaml", "nats:\n  url: a\nnats:\n  url: b\n")
    write("config", "env.yaml", "nats:\n  url: ${NATS_URL:-nats://127.0.0.1:4222}\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=pathlib.Path, help="folder with rsa.pem, rsa.pub, ec.pem")
    args = parser.parse_args()
    protocol_seeds()
    envelope_seeds()
    jwt_seeds(args.keys)
    channel_seeds()
    template_seeds()
    config_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
