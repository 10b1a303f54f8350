#!/usr/bin/python3
"""An independent client of the edge: Python's websockets and PyJWT (Debian packages).

Run by edge_session_test.cpp. Checks that bad tokens are refused with close code 4001 and
that a good one can subscribe and receive a message. Prints one line per step; the line
"subscribed" tells the test to publish. Exits non-zero on the first failed check.
"""
import argparse
import asyncio
import json
import sys
import time

import jwt
import websockets


def claims(sub, **extra):
    now = int(time.time())
    c = {"sub": sub, "iat": now, "exp": now + 300}
    c.update(extra)
    return c


def bad_tokens(args):
    now = int(time.time())
    good = lambda c: jwt.encode(c, args.secret, algorithm="HS256", headers={"kid": args.kid})
    aud = {"aud": args.audience}
    unsigned = jwt.encode(claims("42", **aud), None, algorithm="none")
    return {
        "expired": good(claims("42", exp=now - 120, **aud)),
        "not_yet_valid": good(claims("42", nbf=now + 3600, **aud)),
        "wrong_audience": good(claims("42", aud="other")),
        "alg_none": unsigned,
        "wrong_signature": jwt.encode(claims("42", **aud), "x" * 40, algorithm="HS256",
                                      headers={"kid": args.kid}),
        "truncated": good(claims("42", **aud))[:-6],
    }


async def expect_refused(url, name, token):
    async with websockets.connect(url, subprotocols=["bridge.json.v1"]) as ws:
        await ws.send(json.dumps({"op": "connect", "id": 1, "token": token}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if reply.get("code") != "unauthorized":
            raise SystemExit(f"{name}: expected unauthorized, got {reply}")
        try:
            await asyncio.wait_for(ws.recv(), 5)
            raise SystemExit(f"{name}: connection stayed open")
        except websockets.ConnectionClosed as closed:
            if closed.code != 4001:
                raise SystemExit(f"{name}: close code {closed.code}, expected 4001")
    print(f"ok: {name} refused with 4001", flush=True)


async def receive_one(url, args):
    token = jwt.encode(claims("42", aud=args.audience), args.secret, algorithm="HS256",
                       headers={"kid": args.kid})
    async with websockets.connect(url, subprotocols=["bridge.json.v1"]) as ws:
        await ws.send(json.dumps({"op": "connect", "id": 1, "token": token}))
        connected = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if connected.get("op") != "connected":
            raise SystemExit(f"connect: {connected}")
        await ws.send(json.dumps({"op": "subscribe", "id": 2, "channel": "user:42:notifications"}))
        subscribed = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if subscribed.get("op") != "subscribed":
            raise SystemExit(f"subscribe: {subscribed}")
        print("subscribed", flush=True)
        frame = await asyncio.wait_for(ws.recv(), 10)
        message = json.loads(frame.split("\n")[0])
        if message.get("op") != "message" or message["data"].get("text") != "from the test":
            raise SystemExit(f"message: {message}")
        print(f"ok: message seq={message['seq']}", flush=True)


async def deflate_checks(url, args):
    token = jwt.encode(claims("42", aud=args.audience), args.secret, algorithm="HS256",
                       headers={"kid": args.kid})
    async with websockets.connect(url, subprotocols=["bridge.json.v1"],
                                  compression="deflate") as ws:
        names = [e.name for e in ws.extensions]
        if "permessage-deflate" not in names:
            raise SystemExit(f"deflate not negotiated: {names}")
        print("ok: deflate negotiated", flush=True)
        await ws.send(json.dumps({"op": "connect", "id": 1, "token": token}))
        await asyncio.wait_for(ws.recv(), 5)
        text = json.dumps({"op": "subscribe", "id": 2, "channel": "chat:big",
                           "pad": "p" * 40000})
        third = len(text) // 3
        await ws.send([text[:third], text[third:2 * third], text[2 * third:]])
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if reply.get("op") != "subscribed" or reply.get("id") != 2:
            raise SystemExit(f"fragmented: {reply}")
        print("ok: fragmented reply", flush=True)
        await ws.send(json.dumps({"op": "publish", "id": 3, "pad": "a" * (8 * 1024 * 1024)}))
        try:
            await asyncio.wait_for(ws.recv(), 10)
            raise SystemExit("bomb: connection stayed open")
        except websockets.ConnectionClosed as closed:
            if closed.code != 1009:
                raise SystemExit(f"bomb: close code {closed.code}, expected 1009")
        print("ok: inflation bomb closed with 1009", flush=True)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--kid", required=True)
    parser.add_argument("--deflate", action="store_true")
    args = parser.parse_args()
    url = f"ws://127.0.0.1:{args.port}/ws"
    if args.deflate:
        await deflate_checks(url, args)
        return
    for name, token in bad_tokens(args).items():
        await expect_refused(url, name, token)
    await receive_one(url, args)


if __name__ == "__main__":
    asyncio.run(main())
